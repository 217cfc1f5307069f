#include "common/npy.h"

#include <gtest/gtest.h>

#include <string>

#include "common/export.h"
#include "common/file_util.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::TempDir;

TEST(NpyTest, RoundTripAndHeaderLayout) {
  const TempDir tmp;
  const std::string& dir = tmp.path();
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(WriteNpy(dir + "/a.npy", data.data(), 2, 3).ok());
  std::string bytes;
  ASSERT_TRUE(ReadFile(dir + "/a.npy", &bytes).ok());
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ((bytes.size() - data.size() * 4) % 64, 0u);  // header padded to 64 bytes
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
  std::vector<float> back;
  std::vector<int64_t> shape;
  ASSERT_TRUE(ReadNpy(dir + "/a.npy", &back, &shape).ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
  // Strided: the last column of 2 rows of width 3 as a 1-d array.
  ASSERT_TRUE(WriteNpyStrided(dir + "/b.npy", data.data() + 2, 2, 0, 3).ok());
  ASSERT_TRUE(ReadNpy(dir + "/b.npy", &back, &shape).ok());
  EXPECT_EQ(back, (std::vector<float>{3, 6}));
  EXPECT_EQ(shape, (std::vector<int64_t>{2}));
  // A truncated file is an error naming it.
  ASSERT_TRUE(WriteFileAtomic(dir + "/c.npy", bytes.substr(0, bytes.size() - 3)).ok());
  Status s = ReadNpy(dir + "/c.npy", &back, &shape);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("c.npy"), std::string::npos);
}

TEST(NpyTest, ExportWritesFastbookLayout) {
  const TempDir tmp;
  const std::string dir = tmp.Path("model/nested");
  Vocab users = Vocab::Build({"10", "2"}), items = Vocab::Build({"b", "a", "c"});
  const int k = 2;
  std::vector<float> u = {1, 2, 0.5f, 3, 4, 0.25f};
  std::vector<float> i = {5, 6, -1, 7, 8, -2, 9, 10, -3};
  ASSERT_TRUE(ExportModel(dir, k, users, items, u, i).ok());
  std::vector<float> v;
  std::vector<int64_t> shape;
  ASSERT_TRUE(ReadNpy(dir + "/user_factors.npy", &v, &shape).ok());
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4}));
  ASSERT_TRUE(ReadNpy(dir + "/item_bias.npy", &v, &shape).ok());
  EXPECT_EQ(v, (std::vector<float>{-1, -2, -3}));
  std::string tsv;
  ASSERT_TRUE(ReadFile(dir + "/users.tsv", &tsv).ok());
  EXPECT_EQ(tsv, "0\t2\n1\t10\n");  // numeric order
  ASSERT_TRUE(ReadFile(dir + "/items.tsv", &tsv).ok());
  EXPECT_EQ(tsv, "0\ta\n1\tb\n2\tc\n");
}

}  // namespace
}  // namespace cfps
