// Regression tests for the bad inputs of README.md "Bad input" that the reader used to get wrong:
// UTF-16 and binary files gave a message cut at the first NUL byte, CR-only line endings trained
// on the first rating alone, an id with a tab trained and then failed at export (leaving half an
// export directory), and a semicolon csv was read as whitespace-separated.
#include <gtest/gtest.h>

#include <string>

#include "common/dataset.h"
#include "common/ratings.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::TempDir;

Status ReadBytes(const TempDir& dir, const std::string& name, const std::string& bytes,
                 Ratings* out, bool skip = false) {
  ReadOptions read;
  read.skip_bad_lines = skip;
  return ReadRatings(dir.Write(name, bytes), read, out);
}

TEST(BadInput, Utf16And32WithByteOrderMark) {
  TempDir dir;
  Ratings r;
  Status s = ReadBytes(dir, "u16.data", std::string("\xFF\xFE\x31\0\t\0\x32\0", 8), &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "'" + dir.Path("u16.data") +
                             "' is UTF-16 text (it starts with a byte-order mark); cfps reads "
                             "UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8 '" +
                             dir.Path("u16.data") + "' > ratings.utf8");
  s = ReadBytes(dir, "be.data", std::string("\xFE\xFF\0\x31", 4), &r);
  EXPECT_NE(s.message().find("is UTF-16 text"), std::string::npos) << s.message();
  s = ReadBytes(dir, "u32.data", std::string("\xFF\xFE\0\0\x31\0\0\0", 8), &r);
  EXPECT_NE(s.message().find("is UTF-32 text"), std::string::npos) << s.message();
}

TEST(BadInput, NulBytesAreNotText) {
  TempDir dir;
  Ratings r;
  Status s = ReadBytes(dir, "bin", std::string("1\t2\t3\n4\t5\0\t6\n", 12), &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), dir.Path("bin") +
                             ":2: a NUL byte (offset 9): not a text ratings file (binary data, or "
                             "UTF-16/32 text without a byte-order mark: convert it to UTF-8)");
}

TEST(BadInput, Archives) {
  TempDir dir;
  Ratings r;
  Status s = ReadBytes(dir, "r.gz", std::string("\x1F\x8B\x08\0", 4), &r);
  EXPECT_EQ(s.message(), "'" + dir.Path("r.gz") + "' is gzip-compressed: decompress it first " +
                             "(gunzip -k '" + dir.Path("r.gz") + "')");
  s = ReadBytes(dir, "r.zip", std::string("PK\x03\x04\x14\0", 6), &r);
  EXPECT_NE(s.message().find("is a zip archive: unzip it"), std::string::npos) << s.message();
}

TEST(BadInput, CrOnlyLineEndingsAreRefusedNotReadAsOneLine) {
  TempDir dir;
  Ratings r;
  Status s = ReadBytes(dir, "mac.data", "1\t10\t4\t0\r2\t20\t3\t0\r3\t10\t5\t0\r", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("has CR (classic Mac) line endings and no LF: convert them, e.g. "
                             "tr '\\r' '\\n' < '"),
            std::string::npos)
      << s.message();
  // One line ending in a CR (no LF) is still one good line; CRLF files are fine.
  ASSERT_TRUE(ReadBytes(dir, "one.data", "1\t10\t4\r", &r).ok());
  EXPECT_EQ(r.size(), 1u);
  ASSERT_TRUE(ReadBytes(dir, "crlf.data", "1\t10\t4\r\n2\t20\t3\r\n", &r).ok());
  EXPECT_EQ(r.size(), 2u);
}

TEST(BadInput, IdWithTabOrLineBreakIsAnErrorAtReadTime) {
  TempDir dir;
  Ratings r;
  Status s = ReadBytes(dir, "tab.csv", "userId,movieId,rating\n1,10,4\n\"a\tb\",20,3\n", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), dir.Path("tab.csv") +
                             ":3: user id 'a\tb' contains a tab or a line break, which the "
                             "vocabulary files (users.tsv, items.tsv) cannot hold: remove it "
                             "from the id");
  // Even with --skip-bad-lines, and for items, and with a carriage return inside the line.
  s = ReadBytes(dir, "cr.dat", "1::10::4\n2::2\r0::3\n", &r, /*skip=*/true);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(":2: item id '2\r0' contains a tab or a line break"),
            std::string::npos)
      << s.message();
  // The same id later in a long file: found where it first appears, in any batch.
  std::string many = "userId,movieId,rating\n";
  for (int k = 0; k < 1000; ++k) many += std::to_string(k) + "," + std::to_string(k) + ",3\n";
  many += "\"x\ty\",5,3\n";
  s = ReadBytes(dir, "late.csv", many, &r);
  EXPECT_NE(s.message().find("late.csv:1002: user id 'x\ty'"), std::string::npos) << s.message();
}

TEST(BadInput, SemicolonCsvIsDetected) {
  TempDir dir;
  Ratings r;
  ASSERT_TRUE(ReadBytes(dir, "semi.csv", "userId;movieId;rating\n1;10;4\n2;20;3.5\n", &r).ok());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.item_names[static_cast<size_t>(r.item[1])], "20");
  EXPECT_FLOAT_EQ(r.rating[1], 3.5f);
}

TEST(BadInput, BadLinesSayWhatToDo) {
  TempDir dir;
  Ratings r;
  ReadOptions read;
  const std::string path = dir.Write("short.data", "1\t10\t4\n2\t20\n");
  Status s = ReadRatings(path, read, &r);
  EXPECT_EQ(s.message(), path +
                             ":2: expected 3 or more fields, got 2: '2\t20' (fix or delete "
                             "the line, or pass --skip-bad-lines to skip and count such lines)");
  read.skip_option = "";
  s = ReadRatings(path, read, &r);
  EXPECT_EQ(s.message(), path +
                             ":2: expected 3 or more fields, got 2: '2\t20' (fix or delete "
                             "the line)");
  const std::string empty = dir.Write("empty.data", "\n  \n");
  s = ReadRatings(empty, read, &r);
  EXPECT_EQ(s.message(), "'" + empty +
                             "' contains no ratings (it is empty, or has only blank "
                             "lines or a header): pass a ratings file");
}

TEST(BadInput, DatasetNamesTheOptionOfAFileThatCannotBeRead) {
  TempDir dir;
  DataOptions options;
  Dataset d;
  options.data = dir.Path("missing.data");
  Status s = BuildDataset(options, &d);
  EXPECT_EQ(s.message(), "--data: cannot open '" + options.data + "': No such file or directory");
  options.data = dir.Write("good.data", "1\t10\t4\n2\t20\t3\n");
  options.valid_data = dir.path();
  s = BuildDataset(options, &d);
  EXPECT_EQ(s.message(), "--valid-data: cannot read '" + dir.path() + "': Is a directory");
}

}  // namespace
}  // namespace cfps
