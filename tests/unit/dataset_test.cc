#include "common/dataset.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/prepared.h"
#include "common/random.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::TempDir;

// n ratings; the rating of line k is k itself, so every rating identifies its line. Users and
// items repeat (k % users, k % items) so that most validation ratings are known in training.
std::string NumberedRatings(int n, int users, int items) {
  std::string text;
  for (int k = 0; k < n; ++k) {
    text += "u" + std::to_string(k % users) + "\t" + std::to_string((k * 7) % items) + "\t" +
            std::to_string(k) + "\n";
  }
  return text;
}

DataOptions Numbered(const std::string& path, double valid_pct, uint64_t seed) {
  DataOptions o;
  o.data = path;
  o.valid_pct = valid_pct;
  o.seed = seed;
  o.read.max_rating = 1e9;
  return o;
}

std::vector<int> Lines(const RatingArrays& a) {
  std::vector<int> out;
  for (float r : a.ratings()) out.push_back(static_cast<int>(r));
  return out;
}

TEST(BuildDataset, SplitSizesFollowRoundedFraction) {
  TempDir dir;
  const std::string path = dir.Write("r.data", NumberedRatings(1001, 13, 17));
  for (double pct : {0.0, 0.1, 0.2, 0.25, 0.5, 0.999}) {
    Dataset d;
    ASSERT_TRUE(BuildDataset(Numbered(path, pct, 42), &d).ok()) << pct;
    const size_t want_valid = static_cast<size_t>(1001 * pct);  // int(), as fastai
    EXPECT_EQ(d.valid.size(), want_valid) << pct;
    EXPECT_EQ(d.train.size(), 1001 - want_valid) << pct;
  }
}

uint32_t BitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

TEST(RatingLayoutTest, PacksWhenRowsAndRatingBitsFitInAWord) {
  // ml-100k: 943 + 1 and 1682 + 1 values take 10 and 11 bits; whole ratings keep all 32 bits.
  uint32_t whole = 0;
  for (float r : {1.0f, 2.0f, 3.0f, 4.0f, 5.0f}) whole |= BitsOf(r);
  RatingLayout l = ChooseRatingLayout(943, 1682, whole);
  EXPECT_TRUE(l.packed);
  EXPECT_EQ(l.user_bits, 10);
  EXPECT_EQ(l.item_bits, 11);
  EXPECT_EQ(l.rating_shift, 0);
  // ML-25M: 18 + 16 bits of rows leave 30 for the rating; halves have 19 zero low bits.
  uint32_t halves = 0;
  for (int h = 1; h <= 10; ++h) halves |= BitsOf(0.5f * static_cast<float>(h));
  l = ChooseRatingLayout(162541, 59047, halves);
  EXPECT_TRUE(l.packed);
  EXPECT_EQ(l.user_bits + l.item_bits, 34);
  EXPECT_EQ(l.rating_shift, 2);
  // The same rows with ratings that use every mantissa bit: 12 bytes each.
  EXPECT_FALSE(
      ChooseRatingLayout(162541, 59047, halves | BitsOf(std::nextafter(1.0f, 2.0f))).packed);
  // Small tables keep any float exactly.
  EXPECT_TRUE(ChooseRatingLayout(1000, 1000, BitsOf(3.14159f) | BitsOf(-1e-30f)).packed);
  // Rows near the int32 limit do not fit next to a rating that needs more than 2 bits.
  EXPECT_FALSE(ChooseRatingLayout(int64_t{1} << 30, int64_t{1} << 30, halves).packed);
  EXPECT_EQ(ChooseRatingLayout(0, 0, 0).user_bits, 1);  // -1 and nothing else
}

TEST(RatingLayoutTest, BothLayoutsGiveBackExactlyWhatWasStored) {
  Rng rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t n_users = 1 + static_cast<int64_t>(rng.Below(1u << (trial % 20)));
    const int64_t n_items = 1 + static_cast<int64_t>(rng.Below(1u << (trial % 17)));
    const int kind = trial % 4;
    std::vector<Rating> want(300);
    for (Rating& r : want) {
      r.user = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(n_users + 1))) - 1;
      r.item = static_cast<int32_t>(rng.Below(static_cast<uint32_t>(n_items + 1))) - 1;
      const float any = static_cast<float>(rng.Uniform() * 20.0 - 10.0);
      r.rating = kind == 0   ? 0.5f * static_cast<float>(rng.Below(11))
                 : kind == 1 ? any
                 : kind == 2 ? -0.0f
                             : std::ldexp(any, -100);
    }
    std::vector<float> values;
    values.reserve(want.size());
    for (const Rating& r : want) values.push_back(r.rating);
    const RatingLayout layout =
        ChooseRatingLayout(n_users, n_items, RatingBits(values.data(), values.size()));
    if (kind == 0) {
      EXPECT_TRUE(layout.packed) << n_users << " x " << n_items;
    }
    RatingArrays pushed(layout), placed(layout);
    placed.resize(want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      pushed.push_back(want[k].user, want[k].item, want[k].rating);
      placed.set(want.size() - 1 - k, want[k].user, want[k].item, want[k].rating);
    }
    ASSERT_EQ(pushed.size(), want.size());
    EXPECT_EQ(pushed.bytes_per_rating(), layout.packed ? 8u : 12u);
    pushed.Read([&](auto reader) {
      for (size_t k = 0; k < want.size(); ++k) {
        const Rating a = reader(k), b = placed[want.size() - 1 - k];
        EXPECT_EQ(a.user, want[k].user);
        EXPECT_EQ(a.item, want[k].item);
        EXPECT_EQ(BitsOf(a.rating), BitsOf(want[k].rating));
        EXPECT_EQ(b.user, want[k].user);
        EXPECT_EQ(b.item, want[k].item);
        EXPECT_EQ(BitsOf(b.rating), BitsOf(want[k].rating));
      }
    });
  }
}

TEST(RatingLayoutTest, BuiltDatasetsArePackedAndMatchTheFile) {
  // NumberedRatings: ratings 0..1000 (whole numbers), 13 users, 17 items: packed.
  TempDir dir;
  const std::string path = dir.Write("r.data", NumberedRatings(1001, 13, 17));
  Dataset d;
  ASSERT_TRUE(BuildDataset(Numbered(path, 0.2, 42), &d).ok());
  EXPECT_TRUE(d.train.layout().packed);
  EXPECT_TRUE(d.valid.layout().packed);
  for (const RatingArrays* a : {&d.train, &d.valid}) {
    for (size_t k = 0; k < a->size(); ++k) {
      const int line = static_cast<int>((*a)[k].rating);
      ASSERT_EQ(d.users.Name((*a)[k].user), "u" + std::to_string(line % 13));
      ASSERT_EQ(d.items.Name((*a)[k].item), std::to_string((line * 7) % 17));
    }
  }
}

TEST(BuildDataset, SplitIsDisjointCompleteInFileOrderAndMatchesThePermutation) {
  TempDir dir;
  const int n = 500;
  const std::string path = dir.Write("r.data", NumberedRatings(n, 11, 23));
  const uint64_t seed = 7;
  Dataset d;
  ASSERT_TRUE(BuildDataset(Numbered(path, 0.2, seed), &d).ok());
  std::vector<int> train = Lines(d.train), valid = Lines(d.valid);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_TRUE(std::is_sorted(valid.begin(), valid.end()));
  std::vector<int> all = train;
  all.insert(all.end(), valid.begin(), valid.end());
  std::sort(all.begin(), all.end());
  for (int k = 0; k < n; ++k) ASSERT_EQ(all[static_cast<size_t>(k)], k);

  // The documented split: the first int(n * pct) of torch.randperm(n) after manual_seed(seed).
  std::vector<int> perm;
  TorchRandperm(n, seed, &perm);
  std::vector<int> want_valid(perm.begin(), perm.begin() + 100);
  std::sort(want_valid.begin(), want_valid.end());
  EXPECT_EQ(valid, want_valid);

  // Dense rows point at the right raw ids.
  for (size_t k = 0; k < d.train.size(); ++k) {
    const int line = train[k];
    ASSERT_GE(d.train.user(k), 0);
    ASSERT_GE(d.train.item(k), 0);
    EXPECT_EQ(d.users.Name(d.train.user(k)), "u" + std::to_string(line % 11));
    EXPECT_EQ(d.items.Name(d.train.item(k)), std::to_string((line * 7) % 23));
  }
  for (size_t k = 0; k < d.valid.size(); ++k) {
    const int line = valid[k];
    if (d.valid.user(k) >= 0) {
      EXPECT_EQ(d.users.Name(d.valid.user(k)), "u" + std::to_string(line % 11));
    }
    if (d.valid.item(k) >= 0) {
      EXPECT_EQ(d.items.Name(d.valid.item(k)), std::to_string((line * 7) % 23));
    }
  }
  // Items are numeric, so rows follow the numeric order.
  EXPECT_EQ(d.items.Name(0), "0");
  EXPECT_EQ(d.items.Name(10), "10");
}

TEST(BuildDataset, SameSeedSameSplitOtherSeedOtherSplit) {
  TempDir dir;
  const std::string path = dir.Write("r.data", NumberedRatings(2000, 31, 57));
  Dataset a, b, c;
  ASSERT_TRUE(BuildDataset(Numbered(path, 0.2, 42), &a).ok());
  ASSERT_TRUE(BuildDataset(Numbered(path, 0.2, 42), &b).ok());
  ASSERT_TRUE(BuildDataset(Numbered(path, 0.2, 43), &c).ok());
  EXPECT_EQ(Lines(a.valid), Lines(b.valid));
  EXPECT_EQ(a.train.users(), b.train.users());
  EXPECT_EQ(a.train.items(), b.train.items());
  EXPECT_EQ(a.users.names(), b.users.names());
  EXPECT_EQ(a.valid.size(), c.valid.size());
  EXPECT_NE(Lines(a.valid), Lines(c.valid));
}

TEST(BuildDataset, VocabularyComesFromTrainingOnly) {
  // Users u0..u9 rate many times; each line also has a one-off item, so every validation rating
  // has an item unknown to training.
  std::string text;
  for (int k = 0; k < 300; ++k) {
    text += "u" + std::to_string(k % 10) + " once" + std::to_string(k) + " " +
            std::to_string(k % 5 + 1) + "\n";
  }
  TempDir dir;
  DataOptions o;
  o.data = dir.Write("r.data", text);
  Dataset d;
  ASSERT_TRUE(BuildDataset(o, &d).ok());
  EXPECT_EQ(d.valid.size(), 60u);
  EXPECT_EQ(d.items.size(), 240);
  EXPECT_EQ(d.users.size(), 10);
  EXPECT_EQ(d.valid_unknown, 60);
  for (size_t k = 0; k < d.valid.size(); ++k) {
    EXPECT_EQ(d.valid.item(k), -1);
    EXPECT_GE(d.valid.user(k), 0);
  }
  for (size_t k = 0; k < d.train.size(); ++k) {
    EXPECT_GE(d.train.user(k), 0);
    EXPECT_GE(d.train.item(k), 0);
  }
}

// A rank that only serves (keep_ratings false): the same vocabularies, sizes and unknown count as a
// worker's dataset, with no ratings held; for the random split and for a validation file.
TEST(BuildDataset, ServersKeepCountsAndVocabulariesOnly) {
  TempDir dir;
  std::string text;
  for (int k = 0; k < 500; ++k) {
    text += std::to_string(k % 37) + "\t" + std::to_string((k * 13) % 101) + "\t" +
            std::to_string(1 + k % 5) + "\n";
  }
  for (int k = 0; k < 20; ++k) text += "once" + std::to_string(k) + "\t13\t4\n";  // some in valid
  DataOptions split;
  split.data = dir.Write("r.data", text);
  split.valid_pct = 0.3;
  DataOptions file = split;
  file.valid_data = dir.Write("v.data", "1\t13\t3\n999\t13\t4\n2\t998\t5\n");
  for (const DataOptions& o : {split, file}) {
    Dataset worker, server;
    ASSERT_TRUE(BuildDataset(o, &worker).ok());
    ASSERT_TRUE(BuildDataset(o, &server, /*keep_ratings=*/false).ok());
    EXPECT_EQ(server.train.size(), worker.train.size());
    EXPECT_EQ(server.valid.size(), worker.valid.size());
    EXPECT_EQ(server.valid_unknown, worker.valid_unknown);
    EXPECT_GT(worker.valid_unknown, 0);
    EXPECT_EQ(server.users.size(), worker.users.size());
    EXPECT_EQ(server.items.size(), worker.items.size());
    for (int64_t r = 0; r < worker.items.size(); ++r) {
      EXPECT_EQ(server.items.Name(static_cast<int32_t>(r)),
                worker.items.Name(static_cast<int32_t>(r)));
    }
    EXPECT_TRUE(server.train.counted() && server.valid.counted());
    EXPECT_FALSE(worker.train.counted());
    EXPECT_EQ(server.train.bytes() + server.valid.bytes(), 0u);
    EXPECT_EQ(worker.train.bytes(), worker.train.size() * worker.train.bytes_per_rating());
  }
}

// A prepared file is read a chunk at a time on two threads: the data set built from it equals the
// text file's, for files many chunks long, for the random split and a validation file, for a
// rank that keeps ratings and one that only serves, and with bad ratings skipped in both halves
// and on chunk edges (read from the text file, they are skipped lines).
TEST(BuildDataset, PreparedFileGivesTheTextFilesDataSet) {
  TempDir dir;
  constexpr int kRatings = 150001;  // about 4.6 chunks of 32768, an odd count
  std::mt19937 rng(5);
  std::string text, valid_text;
  const std::set<int> bad = {0, 32767, 32768, 75000, 75001, 131071, kRatings - 1};
  // The prepared file holds the bad ratings too (prepare refuses them: written directly here).
  Ratings with_bad;
  std::map<std::string, int32_t> user_ids, item_ids;
  auto intern = [](const std::string& name, std::map<std::string, int32_t>* ids,
                   std::vector<std::string>* names) {
    auto it = ids->emplace(name, static_cast<int32_t>(names->size())).first;
    if (it->second == static_cast<int32_t>(names->size())) names->push_back(name);
    return it->second;
  };
  for (int k = 0; k < kRatings; ++k) {
    // Every 50th user rates once: about a fifth of them are unknown in the random split.
    const std::string user =
        k % 50 == 0 ? "once" + std::to_string(k) : "u" + std::to_string(rng() % 3000);
    const std::string item = "i" + std::to_string(rng() % 700);
    float rating = static_cast<float>(1 + k % 5);
    if (bad.count(k)) rating = k % 2 ? std::nanf("") : 9.0f;
    text += user + "\t" + item + "\t" +
            (bad.count(k) ? (k % 2 ? "nan" : "9") : std::to_string(1 + k % 5)) + "\n";
    with_bad.user.push_back(intern(user, &user_ids, &with_bad.user_names));
    with_bad.item.push_back(intern(item, &item_ids, &with_bad.item_names));
    with_bad.rating.push_back(rating);
    if (k % 10 == 0) {
      valid_text += "v" + std::to_string(k % 7) + user + "\t" + item + "\t3\n";
      valid_text += user + "\t" + item + "\t4\n";
    }
  }
  DataOptions text_split;
  text_split.data = dir.Write("r.data", text);
  text_split.read.skip_bad_lines = true;
  ASSERT_TRUE(WritePrepared(ViewOf(with_bad), dir.path() + "/r.cfpsr").ok());
  DataOptions prepared_split = text_split;
  prepared_split.data = dir.path() + "/r.cfpsr";
  DataOptions text_file = text_split, prepared_file = prepared_split;
  text_file.valid_data = dir.Write("v.data", valid_text);
  Ratings valid_parsed;
  ASSERT_TRUE(ReadRatings(text_file.valid_data, text_file.read, &valid_parsed).ok());
  ASSERT_TRUE(WritePrepared(ViewOf(valid_parsed), dir.path() + "/v.cfpsr").ok());
  prepared_file.valid_data = dir.path() + "/v.cfpsr";

  const std::pair<const DataOptions*, const DataOptions*> cases[] = {{&text_split, &prepared_split},
                                                                     {&text_file, &prepared_file}};
  for (const auto& [from_text, from_prepared] : cases) {
    for (bool keep : {true, false}) {
      SCOPED_TRACE(from_text->valid_data + (keep ? " keep" : " serve"));
      Dataset a, b;
      ASSERT_TRUE(BuildDataset(*from_text, &a, keep).ok());
      Status s = BuildDataset(*from_prepared, &b, keep);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(a.users.names(), b.users.names());
      EXPECT_EQ(a.items.names(), b.items.names());
      EXPECT_EQ(a.train.size(), b.train.size());
      EXPECT_EQ(a.valid.size(), b.valid.size());
      EXPECT_EQ(a.valid_unknown, b.valid_unknown);
      EXPECT_GT(a.valid_unknown, 0);
      EXPECT_EQ(a.skipped_lines, b.skipped_lines);
      if (!keep) continue;
      EXPECT_EQ(a.train.users(), b.train.users());
      EXPECT_EQ(a.train.items(), b.train.items());
      EXPECT_EQ(a.train.ratings(), b.train.ratings());
      EXPECT_EQ(a.valid.users(), b.valid.users());
      EXPECT_EQ(a.valid.items(), b.valid.items());
      EXPECT_EQ(a.valid.ratings(), b.valid.ratings());
    }
  }
}

// The error a damaged prepared file gives is its first bad rating in file order, whichever thread
// and chunk meets it first.
TEST(BuildDatasetErrors, PreparedFileNamesItsFirstBadRating) {
  TempDir dir;
  Ratings r;
  r.user_names = {"a", "b"};
  r.item_names = {"x"};
  for (int k = 0; k < 100000; ++k) {
    r.user.push_back(k % 2);
    r.item.push_back(0);
    r.rating.push_back(3);
  }
  const std::string path = dir.path() + "/r.cfpsr";
  DataOptions o;
  o.data = path;
  struct Case {
    int bad_id_at, bad_rating_at;
    std::string want;
  };
  for (const Case& c : {Case{90000, -1, "rating 90000 names user 7 of 2"},
                        Case{90000, 20000, "rating 20000 is 9, outside --y-range"},
                        Case{40000, 60000, "rating 40000 names user 7"},
                        Case{70000, 70000, "rating 70000 names user 7"}}) {
    Ratings damaged = r;
    damaged.user[static_cast<size_t>(c.bad_id_at)] = 7;
    if (c.bad_rating_at >= 0) damaged.rating[static_cast<size_t>(c.bad_rating_at)] = 9;
    ASSERT_TRUE(WritePrepared(ViewOf(damaged), path).ok());
    for (const std::string& valid : {std::string(), dir.Write("v.data", "a x 3\n")}) {
      o.valid_data = valid;
      Dataset d;
      Status s = BuildDataset(o, &d);
      EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message() << " " << valid;
    }
  }
}

TEST(BuildDataset, ExplicitValidationFile) {
  TempDir dir;
  DataOptions o;
  o.data = dir.Write("base.data", "1 10 3\n2 20 4\n3 30 5\n2 10 1\n");
  o.valid_data = dir.Write("test.data",
                           "1 20 2\n"    // known user, known item
                           "4 10 3\n"    // unknown user
                           "2 99 4\n"    // unknown item
                           "5 98 5\n"    // both unknown: counted once
                           "3 30 1\n");  // known
  o.valid_pct = 0.5;                     // unused with a validation file
  Dataset d;
  ASSERT_TRUE(BuildDataset(o, &d).ok());
  EXPECT_EQ(d.train.size(), 4u);
  EXPECT_EQ(d.valid.size(), 5u);
  EXPECT_EQ(d.users.names(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(d.items.names(), (std::vector<std::string>{"10", "20", "30"}));
  EXPECT_EQ(d.train.users(), (std::vector<int32_t>{0, 1, 2, 1}));
  EXPECT_EQ(d.train.items(), (std::vector<int32_t>{0, 1, 2, 0}));
  EXPECT_EQ(d.train.ratings(), (std::vector<float>{3, 4, 5, 1}));
  EXPECT_EQ(d.valid.users(), (std::vector<int32_t>{0, -1, 1, -1, 2}));
  EXPECT_EQ(d.valid.items(), (std::vector<int32_t>{1, 0, -1, -1, 2}));
  EXPECT_EQ(d.valid.ratings(), (std::vector<float>{2, 3, 4, 5, 1}));
  EXPECT_EQ(d.valid_unknown, 3);
  EXPECT_EQ(d.skipped_lines, 0);
}

TEST(BuildDataset, SkippedLinesSumBothFiles) {
  TempDir dir;
  DataOptions o;
  o.data = dir.Write("base.data", "1 10 3\nbad\n2 20 4\n2 20 9\n");
  o.valid_data = dir.Write("test.data", "1 20 2\n1 2\n");
  o.read.skip_bad_lines = true;
  Dataset d;
  ASSERT_TRUE(BuildDataset(o, &d).ok());
  EXPECT_EQ(d.skipped_lines, 3);
  EXPECT_EQ(d.train.size(), 2u);
  EXPECT_EQ(d.valid.size(), 1u);

  o.read.skip_bad_lines = false;
  Status s = BuildDataset(o, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("base.data:2:"), std::string::npos) << s.ToString();
}

TEST(BuildDataset, MovieLens100kSplit) {
  const std::string dir = std::string(CFPS_SHARED_DIR) + "/data/ml-100k";
  if (::access((dir + "/u1.base").c_str(), R_OK) != 0) GTEST_SKIP() << dir << " is not present";
  DataOptions o;
  o.data = dir + "/u.data";
  Dataset d;
  ASSERT_TRUE(BuildDataset(o, &d).ok());
  EXPECT_EQ(d.train.size(), 80000u);
  EXPECT_EQ(d.valid.size(), 20000u);
  EXPECT_EQ(d.users.size(), 943);
  EXPECT_EQ(d.users.Name(0), "1");
  EXPECT_EQ(d.users.Name(942), "943");

  o.data = dir + "/u1.base";
  o.valid_data = dir + "/u1.test";
  ASSERT_TRUE(BuildDataset(o, &d).ok());
  EXPECT_EQ(d.train.size(), 80000u);
  EXPECT_EQ(d.valid.size(), 20000u);
  EXPECT_EQ(d.users.size(), 943);
  EXPECT_GT(d.valid_unknown, 0);  // u1.test has movies that u1.base lacks
  EXPECT_LT(d.valid_unknown, 1000);
}

TEST(BuildDatasetErrors, ValidPctOutOfRange) {
  TempDir dir;
  const std::string path = dir.Write("r.data", NumberedRatings(10, 3, 3));
  for (double pct : {1.0, -0.1, 1.5, std::nan("")}) {
    Dataset d;
    Status s = BuildDataset(Numbered(path, pct, 1), &d);
    ASSERT_FALSE(s.ok()) << pct;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find("--valid-pct"), std::string::npos) << s.ToString();
  }
}

TEST(BuildDatasetErrors, SplitTruncatesAsFastaiSoTrainingIsNeverEmpty) {
  TempDir dir;
  Dataset d;
  // int(0.6 * 1) = 0 ratings held out, as fastai's RandomSplitter: the one rating trains.
  ASSERT_TRUE(BuildDataset(Numbered(dir.Write("one.data", "1 2 3\n"), 0.6, 1), &d).ok());
  EXPECT_EQ(d.train.size(), 1u);
  EXPECT_EQ(d.valid.size(), 0u);
}

TEST(BuildDatasetErrors, FilesThatCannotBeRead) {
  TempDir dir;
  Dataset d;
  DataOptions o;
  o.data = dir.Write("base.data", "1 10 3\n");
  o.valid_data = "/nonexistent/test.data";
  Status s = BuildDataset(o, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/test.data"), std::string::npos) << s.ToString();
  o.valid_data.clear();
  o.data = "/nonexistent/base.data";
  s = BuildDataset(o, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/base.data"), std::string::npos) << s.ToString();
  o.data = dir.Write("empty.data", "");
  s = BuildDataset(o, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("contains no ratings"), std::string::npos) << s.ToString();
}

TEST(BuildDataset, ReadsAPipeOnceFrontToBack) {
  // `--data <(zcat ratings.gz)`: nothing may open the pipe before the parser does. The look for a
  // prepared file's magic did, read nothing, closed it, and the parser's second open then waited
  // for a writer that had gone.
  TempDir dir;
  const std::string fifo = dir.path() + "/ratings.pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto probe = std::async(std::launch::async, [&] { return IsPreparedFile(fifo); });
  if (probe.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // releases the open it is blocked in
    if (fd >= 0) ::close(fd);
    probe.get();
    FAIL() << "IsPreparedFile opened the pipe (and waited for a writer)";
  }
  EXPECT_FALSE(probe.get());

  const std::string text = "1\t10\t4\n2\t20\t3\n1\t20\t5\n";
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // waits for the reader
    if (fd < 0) return;
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  });
  DataOptions o;
  o.data = fifo;
  o.valid_pct = 0;
  Dataset d;
  const Status s = BuildDataset(o, &d);
  writer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(d.train.size(), 3u);
  EXPECT_EQ(d.users.size(), 2u);
  EXPECT_EQ(d.items.size(), 2u);
}

// Values printed by PyTorch 1.13: torch.manual_seed(s); torch.randperm(n).
TEST(TorchRandpermTest, MatchesPyTorch) {
  std::vector<int64_t> p;
  TorchRandperm(100000, 0, &p);
  EXPECT_EQ(std::vector<int64_t>(p.begin(), p.begin() + 8),
            (std::vector<int64_t>{36044, 73702, 76369, 2549, 52523, 32634, 95851, 73247}));
  EXPECT_EQ(p.back(), 84786);
  TorchRandperm(100000, 1, &p);
  EXPECT_EQ(std::vector<int64_t>(p.begin(), p.begin() + 8),
            (std::vector<int64_t>{95845, 18969, 32002, 23533, 91283, 17833, 86407, 46725}));
  EXPECT_EQ(p.back(), 61140);
  TorchRandperm(30000000, 3, &p);
  EXPECT_EQ(std::vector<int64_t>(p.begin(), p.begin() + 4),
            (std::vector<int64_t>{25658986, 3761059, 11471941, 7554030}));
  EXPECT_EQ(p.back(), 5359772);
  std::vector<int> small;
  TorchRandperm(10, 42, &small);
  EXPECT_EQ(small, (std::vector<int>{2, 6, 1, 8, 4, 5, 0, 9, 3, 7}));
}

// The first k entries after k swaps are those of the whole permutation (the split needs no more).
TEST(TorchRandpermTest, PrefixEqualsTheWholePermutationsPrefix) {
  for (int64_t n : {1, 2, 7, 1000, 12345}) {
    std::vector<uint32_t> whole, part;
    TorchRandperm(n, 3, &whole);
    for (int64_t k : {int64_t{0}, int64_t{1}, n / 5, n - 1, n}) {
      TorchRandperm(n, 3, &part, k);
      for (int64_t j = 0; j < k; ++j) ASSERT_EQ(part[j], whole[j]) << n << " " << k << " " << j;
    }
  }
}

}  // namespace
}  // namespace cfps
