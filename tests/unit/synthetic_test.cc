#include "common/synthetic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/ratings.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::FileContents;
using ::cfps::testing::TempDir;

GenOptions Small(int64_t users, int64_t items, int64_t ratings, uint64_t seed = 42) {
  GenOptions o;
  o.users = users;
  o.items = items;
  o.ratings = ratings;
  o.seed = seed;
  return o;
}

// Checks the shape every generated set must have and returns the distinct users and items.
void ExpectWellFormed(const GenOptions& o, const SyntheticRatings& r, size_t* users,
                      size_t* items) {
  ASSERT_EQ(r.size(), static_cast<size_t>(o.ratings));
  ASSERT_EQ(r.user.size(), r.size());
  ASSERT_EQ(r.item.size(), r.size());
  std::unordered_set<uint64_t> pairs;
  std::unordered_set<int32_t> u, i;
  for (size_t k = 0; k < r.size(); ++k) {
    ASSERT_GE(r.user[k], 0);
    ASSERT_LT(r.user[k], o.users);
    ASSERT_GE(r.item[k], 0);
    ASSERT_LT(r.item[k], o.items);
    ASSERT_GE(r.rating[k], 1);
    ASSERT_LE(r.rating[k], 5);
    uint64_t key = static_cast<uint64_t>(r.user[k]) * static_cast<uint64_t>(o.items) +
                   static_cast<uint64_t>(r.item[k]);
    ASSERT_TRUE(pairs.insert(key).second) << "duplicate pair " << r.user[k] << "," << r.item[k];
    u.insert(r.user[k]);
    i.insert(r.item[k]);
  }
  *users = u.size();
  *items = i.size();
}

TEST(ValidateGenOptions, ErrorsNameTheOption) {
  EXPECT_TRUE(ValidateGenOptions(GenOptions()).ok());
  struct Case {
    GenOptions o;
    std::string flag;
  };
  std::vector<Case> cases;
  GenOptions o;
  o.users = 0;
  cases.push_back({o, "--users"});
  o = GenOptions();
  o.items = -1;
  cases.push_back({o, "--items"});
  o = GenOptions();
  o.ratings = 0;
  cases.push_back({o, "--ratings"});
  o = Small(10, 10, 101);
  cases.push_back({o, "--ratings"});
  o = GenOptions();
  o.factors = 0;
  cases.push_back({o, "--factors"});
  o = GenOptions();
  o.noise = -0.1;
  cases.push_back({o, "--noise"});
  o = GenOptions();
  o.noise = std::nan("");
  cases.push_back({o, "--noise"});
  o = GenOptions();
  o.item_zipf = -1;
  cases.push_back({o, "--item-zipf"});
  o = GenOptions();
  o.user_zipf = std::nan("");
  cases.push_back({o, "--user-zipf"});
  for (const Case& c : cases) {
    Status s = ValidateGenOptions(c.o);
    ASSERT_FALSE(s.ok()) << c.flag;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find(c.flag), std::string::npos) << s.ToString();
    SyntheticRatings r;
    EXPECT_FALSE(GenerateSynthetic(c.o, &r).ok());
  }
  // The largest grid allowed is every pair.
  EXPECT_TRUE(ValidateGenOptions(Small(10, 10, 100)).ok());
}

TEST(GenerateSynthetic, DefaultShapeIsMovieLens100kLike) {
  GenOptions o;
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_EQ(users, 943u);
  EXPECT_EQ(items, 1682u);

  // Ratings look like MovieLens: mean near 3.5, a spread of about one star, every value used.
  double sum = 0, sum2 = 0;
  int64_t count[6] = {0, 0, 0, 0, 0, 0};
  for (uint8_t v : r.rating) {
    sum += v;
    sum2 += v * v;
    ++count[v];
  }
  const double mean = sum / static_cast<double>(r.size());
  const double std = std::sqrt(sum2 / static_cast<double>(r.size()) - mean * mean);
  EXPECT_GT(mean, 3.2);
  EXPECT_LT(mean, 3.8);
  EXPECT_GT(std, 0.8);
  EXPECT_LT(std, 1.3);
  for (int v = 1; v <= 5; ++v) EXPECT_GT(count[v], 1000) << v;

  // Item popularity is skewed: the most rated item has many times the median count.
  std::vector<int64_t> per_item(static_cast<size_t>(o.items), 0);
  for (int32_t i : r.item) ++per_item[static_cast<size_t>(i)];
  std::sort(per_item.begin(), per_item.end());
  EXPECT_GT(per_item.back(), 10 * per_item[per_item.size() / 2]);
}

TEST(GenerateSynthetic, SparseGrid) {
  // 15M cells for 60k ratings: pairs are drawn and repeats rejected.
  GenOptions o = Small(5000, 3000, 60000, 3);
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_EQ(users, 5000u);
  EXPECT_EQ(items, 3000u);
}

TEST(GenerateSynthetic, SkewedPopularityOnASparseGrid) {
  // The top items saturate (every user rated them): the draws must still finish.
  GenOptions o = Small(3000, 2000, 200000, 5);
  o.item_zipf = 1.5;
  o.user_zipf = 1.0;
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_EQ(users, 3000u);
  EXPECT_EQ(items, 2000u);
}

TEST(GenerateSynthetic, EveryPairOfAFullGrid) {
  GenOptions o = Small(10, 7, 70);
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_EQ(users, 10u);
  EXPECT_EQ(items, 7u);
}

TEST(GenerateSynthetic, FewerRatingsThanUsersPlusItems) {
  GenOptions o = Small(100, 200, 50);
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_LE(users, 50u);
  EXPECT_LE(items, 50u);
}

TEST(GenerateSynthetic, UniformPopularityAndNoNoise) {
  GenOptions o = Small(50, 40, 1000);
  o.item_zipf = 0;
  o.user_zipf = 0;
  o.noise = 0;
  o.factors = 1;
  SyntheticRatings r;
  ASSERT_TRUE(GenerateSynthetic(o, &r).ok());
  size_t users = 0, items = 0;
  ExpectWellFormed(o, r, &users, &items);
  EXPECT_EQ(users, 50u);
  EXPECT_EQ(items, 40u);
}

TEST(GenerateRatings, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  const std::string a = dir.path() + "/a.data", b = dir.path() + "/b.data",
                    c = dir.path() + "/c.data";
  GenOptions o = Small(300, 400, 20000, 9);
  ASSERT_TRUE(GenerateRatings(o, a).ok());
  ASSERT_TRUE(GenerateRatings(o, b).ok());
  o.seed = 10;
  ASSERT_TRUE(GenerateRatings(o, c).ok());
  const std::string bytes = FileContents(a);
  EXPECT_FALSE(bytes.empty());
  EXPECT_EQ(bytes, FileContents(b));
  EXPECT_NE(bytes, FileContents(c));
  // No temporary left behind.
  EXPECT_EQ(dir.Entries(), (std::vector<std::string>{"a.data", "b.data", "c.data"}));
}

TEST(GenerateRatings, FileMatchesInMemoryAndReadsBack) {
  TempDir dir;
  const std::string path = dir.path() + "/u.data";
  GenOptions o;
  ASSERT_TRUE(GenerateRatings(o, path).ok());
  SyntheticRatings mem;
  ASSERT_TRUE(GenerateSynthetic(o, &mem).ok());

  // u.data layout: user, item (1-based), rating, timestamp.
  const std::string bytes = FileContents(path);
  const std::string first = bytes.substr(0, bytes.find('\n'));
  EXPECT_EQ(first, std::to_string(mem.user[0] + 1) + "\t" + std::to_string(mem.item[0] + 1) + "\t" +
                       std::to_string(mem.rating[0]) + "\t874965758");

  Ratings r;
  ASSERT_TRUE(ReadRatings(path, ReadOptions(), &r).ok());
  ASSERT_EQ(r.size(), 100000u);
  EXPECT_EQ(r.user_names.size(), 943u);
  EXPECT_EQ(r.item_names.size(), 1682u);
  for (size_t k = 0; k < r.size(); ++k) {
    ASSERT_EQ(r.user_names[static_cast<size_t>(r.user[k])], std::to_string(mem.user[k] + 1));
    ASSERT_EQ(r.item_names[static_cast<size_t>(r.item[k])], std::to_string(mem.item[k] + 1));
    ASSERT_EQ(r.rating[k], static_cast<float>(mem.rating[k]));
  }
}

TEST(GenerateRatings, InvalidOptionsAndUnwritablePath) {
  TempDir dir;
  GenOptions o;
  o.users = 0;
  const std::string path = dir.path() + "/x.data";
  Status s = GenerateRatings(o, path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--users"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));

  s = GenerateRatings(Small(10, 10, 20), "/nonexistent/dir/x.data");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("/nonexistent/dir/x.data"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace cfps
