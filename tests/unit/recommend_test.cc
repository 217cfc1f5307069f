#include "worker/recommend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/npy.h"
#include "common/titles.h"
#include "common/vocab.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::TempDir;

// A hand-built model with k = 2, written as cfps train --export writes it:
//
//   item  row  factors  bias       user  row  factors  bias
//   10    0    ( 1, 0)   0.0       1     0    (2, 0)   0.0
//   20    1    ( 0, 1)   0.5       2     1    (0, 1)   0.1
//   30    2    ( 1, 1)  -0.5
//   40    3    (-1, 0)   0.2
//   50    4    ( 2, 0)   0.0
//   60    5    ( 0, 0)   0.0       (a zero vector: cosine 0 with everything, never NaN)
//
// User 1, x = dot + bu + bi: 50 -> 4, 10 -> 2, 30 -> 1.5, 20 -> 0.5, 60 -> 0, 40 -> -1.8.
// Cosine to item 10: 50 -> 1, 30 -> 1/sqrt(2), 20 -> 0, 60 -> 0, 40 -> -1.
// Bias ascending: 30 (-0.5), 10, 50, 60 (0, tied: by row), 40 (0.2), 20 (0.5).
class RecommendTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteModel(); }

  void WriteModel() {
    const std::vector<float> item_factors = {1, 0, 0, 1, 1, 1, -1, 0, 2, 0, 0, 0};
    const std::vector<float> item_bias = {0, 0.5f, -0.5f, 0.2f, 0, 0};
    const std::vector<float> user_factors = {2, 0, 0, 1};
    const std::vector<float> user_bias = {0, 0.1f};
    ASSERT_TRUE(WriteNpy(Path("item_factors.npy"), item_factors.data(), 6, 2).ok());
    ASSERT_TRUE(WriteNpy(Path("item_bias.npy"), item_bias.data(), 6, 0).ok());
    ASSERT_TRUE(WriteNpy(Path("user_factors.npy"), user_factors.data(), 2, 2).ok());
    ASSERT_TRUE(WriteNpy(Path("user_bias.npy"), user_bias.data(), 2, 0).ok());
    ASSERT_TRUE(
        Vocab::Build({"60", "10", "20", "30", "40", "50"}).WriteTsv(Path("items.tsv")).ok());
    ASSERT_TRUE(Vocab::Build({"2", "1"}).WriteTsv(Path("users.tsv")).ok());
  }

  std::string Path(const std::string& name) const { return JoinPath(dir_, name); }

  ExportedModel Load() {
    ExportedModel m;
    Status s = LoadExportedModel(dir_, &m);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  }
  std::string LoadError() {
    ExportedModel m;
    return LoadExportedModel(dir_, &m).ToString();
  }

  // The raw item ids of a ranking.
  static std::vector<std::string> RankedIds(const ExportedModel& m,
                                            const std::vector<ScoredItem>& r) {
    std::vector<std::string> ids;
    ids.reserve(r.size());
    for (const ScoredItem& s : r) ids.push_back(m.items.Name(s.row));
    return ids;
  }

  const TempDir tmp_;
  const std::string dir_ = tmp_.path();
};

using Ids = std::vector<std::string>;

double SigmoidRange(double x, double lo, double hi) { return lo + (hi - lo) / (1 + std::exp(-x)); }

TEST_F(RecommendTest, LoadsTheExport) {
  ExportedModel m = Load();
  EXPECT_EQ(m.k, 2);
  EXPECT_EQ(m.num_users(), 2);
  EXPECT_EQ(m.num_items(), 6);
  EXPECT_EQ(m.items.Lookup("30"), 2);
  EXPECT_EQ(m.dir, dir_);
}

TEST_F(RecommendTest, TopItemsForUserInOrderWithPredictions) {
  ExportedModel m = Load();
  int32_t user = -1;
  ASSERT_TRUE(ResolveUser(m, "1", &user).ok());
  std::vector<ScoredItem> top = TopItemsForUser(m, user, {}, 10, 0, 5.5);
  EXPECT_EQ(RankedIds(m, top), (Ids{"50", "10", "30", "20", "60", "40"}));  // all 6: n > num_items
  const double x[] = {4, 2, 1.5, 0.5, 0, -1.8};
  for (size_t j = 0; j < top.size(); ++j) {
    EXPECT_NEAR(top[j].score, SigmoidRange(x[j], 0, 5.5), 1e-6) << j;
  }
  EXPECT_NEAR(PredictRating(m, user, m.items.Lookup("20"), 1, 5), SigmoidRange(0.5, 1, 5), 1e-6);
  // User 2: x = y + 0.1 + bi: 20 -> 1.6, 30 -> 0.6, 40 -> 0.3, 10/50/60 -> 0.1 (tied: by row).
  ASSERT_TRUE(ResolveUser(m, "2", &user).ok());
  EXPECT_EQ(RankedIds(m, TopItemsForUser(m, user, {}, 6, 1, 5)),
            (Ids{"20", "30", "40", "10", "50", "60"}));
  EXPECT_EQ(RankedIds(m, TopItemsForUser(m, user, {}, 2, 0, 5.5)), (Ids{"20", "30"}));
}

TEST_F(RecommendTest, RatedItemsAreExcluded) {
  ExportedModel m = Load();
  Ratings r;
  r.user_names = {"2", "1"};
  r.item_names = {"10", "99", "30", "50"};  // 99 is not in the model
  auto add = [&](int32_t u, int32_t i) {
    r.user.push_back(u);
    r.item.push_back(i);
    r.rating.push_back(4);
  };
  add(1, 0);  // user 1: 10
  add(1, 1);  // user 1: 99 (ignored)
  add(0, 3);  // user 2: 50
  add(1, 2);  // user 1: 30
  add(1, 0);  // user 1: 10 again
  int64_t count = -1;
  std::vector<bool> rated = RatedItems(m, r, "1", &count);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(rated, (std::vector<bool>{true, false, true, false, false, false}));
  std::vector<ScoredItem> top = TopItemsForUser(m, m.users.Lookup("1"), rated, 3, 0, 5.5);
  EXPECT_EQ(RankedIds(m, top), (Ids{"50", "20", "60"}));
  // Everything rated: nothing left.
  std::vector<bool> all(6, true);
  EXPECT_TRUE(TopItemsForUser(m, 0, all, 3, 0, 5.5).empty());
  // A user absent from the ratings excludes nothing.
  rated = RatedItems(m, r, "7", &count);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(rated, std::vector<bool>(6, false));
}

TEST_F(RecommendTest, CosineRanking) {
  ExportedModel m = Load();
  std::vector<ScoredItem> sim = SimilarItems(m, m.items.Lookup("10"), 10);
  EXPECT_EQ(RankedIds(m, sim), (Ids{"50", "30", "20", "60", "40"}));  // itself excluded
  const double want[] = {1, 1 / std::sqrt(2.0), 0, 0, -1};
  for (size_t j = 0; j < sim.size(); ++j) EXPECT_NEAR(sim[j].score, want[j], 1e-12) << j;
  // From 30 = (1, 1): 10, 20, 50 at 1/sqrt(2) (by row), 60 at 0, 40 at -1/sqrt(2).
  sim = SimilarItems(m, m.items.Lookup("30"), 4);
  EXPECT_EQ(RankedIds(m, sim), (Ids{"10", "20", "50", "60"}));
  // The zero vector: every similarity is 0, ties by row.
  sim = SimilarItems(m, m.items.Lookup("60"), 2);
  EXPECT_EQ(RankedIds(m, sim), (Ids{"10", "20"}));
  EXPECT_EQ(sim[0].score, 0.0);
}

TEST_F(RecommendTest, BiasRanking) {
  ExportedModel m = Load();
  std::vector<ScoredItem> lowest, highest;
  ExtremeItemBiases(m, 3, &lowest, &highest);
  EXPECT_EQ(RankedIds(m, lowest), (Ids{"30", "10", "50"}));
  EXPECT_EQ(RankedIds(m, highest), (Ids{"20", "40", "10"}));
  EXPECT_NEAR(lowest[0].score, -0.5, 1e-7);
  EXPECT_NEAR(highest[0].score, 0.5, 1e-7);
  ExtremeItemBiases(m, 100, &lowest, &highest);
  EXPECT_EQ(lowest.size(), 6u);
  EXPECT_EQ(RankedIds(m, lowest), (Ids{"30", "10", "50", "60", "40", "20"}));
}

TEST_F(RecommendTest, UnknownUser) {
  ExportedModel m = Load();
  int32_t row = -1;
  Status s = ResolveUser(m, "9999", &row);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.ToString(), "unknown user id '9999': not in " + dir_ + "/users.tsv");
}

TEST_F(RecommendTest, ItemLookupByIdAndTitle) {
  ExportedModel m = Load();
  ItemTitles titles;
  ASSERT_TRUE(ParseItemTitles("t.item",
                              "10|Star Wars (1977)|\n"
                              "20|Star Trek: The Motion Picture (1979)|\n"
                              "30|Return of the Jedi (1983)|\n"
                              "40|Chasing Amy (1997)|\n"
                              "50|Chasing Amy (1997)|\n"
                              "60|Star Trek (1979)|\n"
                              "70|Not Rated In Training (1999)|\n",
                              TitlesFormat::kAuto, &titles)
                  .ok());
  auto resolve = [&](const std::string& q) {
    int32_t row = -1;
    Status s = ResolveItem(m, &titles, "t.item", q, &row);
    return s.ok() ? m.items.Name(row) : s.ToString();
  };
  EXPECT_EQ(resolve("30"), "30");                // a raw id first
  EXPECT_EQ(resolve("Star Wars (1977)"), "10");  // an exact title
  EXPECT_EQ(resolve("jedi"), "30");              // a unique substring, any case
  EXPECT_EQ(resolve("STAR TREK (1979)"), "60");  // 2 contain it, 1 equals it ignoring case
  EXPECT_EQ(resolve("Star Trek: The Motion"), "20");
  EXPECT_EQ(resolve("star"),
            "item 'star' is ambiguous: 3 titles contain it: 10 'Star Wars (1977)', 20 'Star Trek: "
            "The Motion Picture (1979)', 60 'Star Trek (1979)' (give the item id or more of the "
            "title)");
  EXPECT_EQ(resolve("(19"),  // 70 is not a candidate: it has no row
            "item '(19' is ambiguous: 6 titles contain it: 10 'Star Wars (1977)', 20 'Star Trek: "
            "The Motion Picture (1979)', 30 'Return of the Jedi (1983)', 40 'Chasing Amy (1997)', "
            "50 'Chasing Amy (1997)', and 1 more (give the item id or more of the title)");
  EXPECT_EQ(resolve("Chasing Amy (1997)"),
            "item title 'Chasing Amy (1997)' is ambiguous: 2 items have it: 40 'Chasing Amy "
            "(1997)', 50 'Chasing Amy (1997)' (give the item id)");
  const std::string items_tsv = dir_ + "/items.tsv";
  EXPECT_EQ(resolve("Not Rated In Training (1999)"),
            "item 'Not Rated In Training (1999)' (id 70 in t.item) has no row in " + items_tsv +
                ": it had no ratings in training");
  EXPECT_EQ(resolve("70"), "item id '70' ('Not Rated In Training (1999)') has no row in " +
                               items_tsv + ": it had no ratings in training");
  EXPECT_EQ(resolve("Empire"), "unknown item 'Empire': not an item id in " + items_tsv +
                                   ", and no title in t.item contains it");
  // Without titles only raw ids work.
  int32_t row = -1;
  Status s = ResolveItem(m, nullptr, "", "Star Wars (1977)", &row);
  EXPECT_EQ(s.ToString(), "unknown item id 'Star Wars (1977)': not in " + items_tsv +
                              " (give --items to look items up by title)");
  ASSERT_TRUE(ResolveItem(m, nullptr, "", "40", &row).ok());
  EXPECT_EQ(row, 3);
}

TEST_F(RecommendTest, MissingDirectoryAndFiles) {
  ExportedModel m;
  Status s = LoadExportedModel(dir_ + "/nope", &m);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.ToString().find(dir_ + "/nope"), std::string::npos) << s.ToString();
  s = LoadExportedModel(Path("items.tsv"), &m);
  EXPECT_NE(s.ToString().find("is not a directory"), std::string::npos) << s.ToString();
  for (const char* file : {"user_factors.npy", "user_bias.npy", "item_factors.npy", "item_bias.npy",
                           "users.tsv", "items.tsv"}) {
    WriteModel();
    std::filesystem::remove(Path(file));
    EXPECT_EQ(LoadError(), "model directory '" + dir_ + "' has no " + file +
                               " (expected the files written by cfps train --export)");
  }
}

TEST_F(RecommendTest, ShapeMismatches) {
  const std::vector<float> z(64, 0.f);
  ASSERT_TRUE(WriteNpy(Path("item_bias.npy"), z.data(), 5, 0).ok());
  EXPECT_EQ(LoadError(), "'" + Path("item_bias.npy") + "' has 5 rows but '" +
                             Path("item_factors.npy") + "' has 6");
  WriteModel();
  ASSERT_TRUE(WriteNpy(Path("item_factors.npy"), z.data(), 6, 3).ok());
  EXPECT_EQ(LoadError(), "'" + Path("item_factors.npy") + "' has 3 factors per row but '" +
                             Path("user_factors.npy") + "' has 2");
  WriteModel();
  ASSERT_TRUE(Vocab::Build({"1", "2", "3"}).WriteTsv(Path("users.tsv")).ok());
  EXPECT_EQ(LoadError(),
            "'" + Path("users.tsv") + "' has 3 rows but '" + Path("user_factors.npy") + "' has 2");
  WriteModel();
  ASSERT_TRUE(WriteNpy(Path("user_factors.npy"), z.data(), 4, 0).ok());
  EXPECT_EQ(LoadError(),
            "'" + Path("user_factors.npy") + "' has shape (4,), expected 2 dimensions (rows x k)");
  WriteModel();
  ASSERT_TRUE(WriteNpy(Path("user_bias.npy"), z.data(), 2, 1).ok());
  EXPECT_EQ(LoadError(),
            "'" + Path("user_bias.npy") + "' has shape (2, 1), expected 1 dimension (rows)");
}

TEST_F(RecommendTest, CorruptFilesAreErrorsNotCrashes) {
  std::vector<float> f = {1, 0, 0, 1, 1, 1, -1, 0, 2, 0, 0, 0};
  f[7] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(WriteNpy(Path("item_factors.npy"), f.data(), 6, 2).ok());
  EXPECT_EQ(LoadError(), "'" + Path("item_factors.npy") + "': non-finite value in row 3");
  WriteModel();
  // A header whose shape is not a number.
  std::string bad = std::string("\x93NUMPY\x01\x00", 8);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }";
  dict.append(118 - dict.size(), ' ');
  dict.push_back('\n');
  bad.push_back(static_cast<char>(dict.size()));
  bad.push_back(0);
  ASSERT_TRUE(WriteFileAtomic(Path("user_bias.npy"), bad + dict).ok());
  std::string err = LoadError();
  EXPECT_EQ(err.rfind("'" + Path("user_bias.npy") + "': ", 0), 0u) << err;  // names the file
  WriteModel();
  ASSERT_TRUE(WriteFileAtomic(Path("items.tsv"), "0\t10\n2\t20\n").ok());
  err = LoadError();
  EXPECT_NE(err.find("items.tsv:2"), std::string::npos) << err;
}

}  // namespace
}  // namespace cfps
