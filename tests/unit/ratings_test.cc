#include "common/ratings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/random.h"
#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

const std::string kData = CFPS_TEST_DATA_DIR;

using ::cfps::testing::TempDir;

struct Triple {
  std::string user, item;
  float rating;
  bool operator==(const Triple& o) const {
    return user == o.user && item == o.item && rating == o.rating;
  }
};

std::ostream& operator<<(std::ostream& os, const Triple& t) {
  return os << "(" << t.user << ", " << t.item << ", " << t.rating << ")";
}

std::vector<Triple> Triples(const Ratings& r) {
  std::vector<Triple> out;
  for (size_t k = 0; k < r.size(); ++k) {
    out.push_back({r.user_names[static_cast<size_t>(r.user[k])],
                   r.item_names[static_cast<size_t>(r.item[k])], r.rating[k]});
  }
  return out;
}

Status Read(const std::string& path, Ratings* out, RatingsFormat format = RatingsFormat::kAuto,
            bool skip = false) {
  ReadOptions options;
  options.format = format;
  options.skip_bad_lines = skip;
  return ReadRatings(path, options, out);
}

// The status is an InvalidArgument or IOError whose one-line message contains every piece.
void ExpectError(const Status& s, const std::vector<std::string>& pieces) {
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kIOError)
      << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
  for (const std::string& piece : pieces) {
    EXPECT_NE(s.message().find(piece), std::string::npos)
        << "'" << s.ToString() << "' lacks '" << piece << "'";
  }
}

TEST(ParseRatingsFormat, NamesAndError) {
  RatingsFormat f = RatingsFormat::kAuto;
  ASSERT_TRUE(ParseRatingsFormat("tsv", &f).ok());
  EXPECT_EQ(f, RatingsFormat::kTsv);
  ASSERT_TRUE(ParseRatingsFormat("dat", &f).ok());
  EXPECT_EQ(f, RatingsFormat::kDat);
  ASSERT_TRUE(ParseRatingsFormat("csv", &f).ok());
  EXPECT_EQ(f, RatingsFormat::kCsv);
  ASSERT_TRUE(ParseRatingsFormat("auto", &f).ok());
  EXPECT_EQ(f, RatingsFormat::kAuto);
  Status s = ParseRatingsFormat("json", &f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("--format"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("json"), std::string::npos) << s.ToString();
}

TEST(ReadRatings, TsvWithBlankRunsAndEmptyLine) {
  for (RatingsFormat format : {RatingsFormat::kAuto, RatingsFormat::kTsv}) {
    Ratings r;
    ASSERT_TRUE(Read(kData + "/small.data", &r, format).ok());
    std::vector<Triple> want = {{"196", "242", 3},
                                {"186", "302", 3},
                                {"22", "377", 1},
                                {"196", "51", 2},
                                {"186", "242", 4.5f}};
    EXPECT_EQ(Triples(r), want);
    EXPECT_EQ(r.user_names, (std::vector<std::string>{"196", "186", "22"}));
    EXPECT_EQ(r.item_names, (std::vector<std::string>{"242", "302", "377", "51"}));
    EXPECT_EQ(r.user, (std::vector<int32_t>{0, 1, 2, 0, 1}));
    EXPECT_EQ(r.item, (std::vector<int32_t>{0, 1, 2, 3, 0}));
    EXPECT_EQ(r.skipped_lines, 0);
  }
}

TEST(ReadRatings, DatWithoutTrailingNewline) {
  for (RatingsFormat format : {RatingsFormat::kAuto, RatingsFormat::kDat}) {
    Ratings r;
    ASSERT_TRUE(Read(kData + "/small.dat", &r, format).ok());
    std::vector<Triple> want = {
        {"1", "1193", 5}, {"1", "661", 3}, {"2", "1193", 4}, {"10", "3408", 2.5f}};
    EXPECT_EQ(Triples(r), want);
    EXPECT_EQ(r.user_names, (std::vector<std::string>{"1", "2", "10"}));
    EXPECT_EQ(r.item_names, (std::vector<std::string>{"1193", "661", "3408"}));
  }
}

TEST(ReadRatings, Csv) {
  for (RatingsFormat format : {RatingsFormat::kAuto, RatingsFormat::kCsv}) {
    Ratings r;
    ASSERT_TRUE(Read(kData + "/small.csv", &r, format).ok());
    std::vector<Triple> want = {
        {"1", "296", 5}, {"1", "306", 3.5f}, {"3", "296", 4}, {"2", "1", 0.5f}};
    EXPECT_EQ(Triples(r), want);
    EXPECT_EQ(r.user_names, (std::vector<std::string>{"1", "3", "2"}));
  }
}

TEST(ReadRatings, CsvCrlfBomAndColumnsByName) {
  // Header "\xEF\xBB\xBFtimestamp,Rating,ITEM_ID,User\r\n": columns found case-insensitively, in
  // any order; the BOM is not part of the first column's name.
  Ratings r;
  ASSERT_TRUE(Read(kData + "/crlf_bom.csv", &r).ok());
  std::vector<Triple> want = {{"u196", "242", 3}, {"u186", "302", 4.5f}, {"u22", "242", 1}};
  EXPECT_EQ(Triples(r), want);
  for (const std::string& n : r.item_names) EXPECT_EQ(n.find('\r'), std::string::npos);
}

TEST(ReadRatings, CsvBomOnFirstColumn) {
  TempDir dir;
  std::string p = dir.Write("bom.csv", "\xEF\xBB\xBFuserId,movieId,rating\r\n7,8,2\r\n");
  Ratings r;
  ASSERT_TRUE(Read(p, &r).ok());
  EXPECT_EQ(Triples(r), (std::vector<Triple>{{"7", "8", 2}}));
}

TEST(ReadRatings, CsvQuotedFields) {
  Ratings r;
  ASSERT_TRUE(Read(kData + "/quoted.csv", &r).ok());
  std::vector<Triple> want = {{"u1", "a,b", 4.5f}, {"u2", "say \"hi\"", 3}, {"u1", "plain", 2}};
  EXPECT_EQ(Triples(r), want);
  EXPECT_EQ(r.user_names, (std::vector<std::string>{"u1", "u2"}));
}

TEST(ReadRatings, CsvLongQuotedIds) {
  // Ids longer than 8 bytes take the interner's long path, also from unescaped scratch space
  // (29 bytes: just under the capacity a string grown by push_back has, so that a hash reading
  // past the end would show under ASan).
  TempDir dir;
  std::string p = dir.Write("long.csv",
                            "user,item,rating\n"
                            "\"a long, quoted user id (29 b)\",\"item \"\"nine\"\" and more\",1\n"
                            "a long user id without quotes,\"item \"\"nine\"\" and more\",2\n"
                            "\"a long, quoted user id (29 b)\",123456789012345678,3\n");
  Ratings r;
  ASSERT_TRUE(Read(p, &r).ok());
  std::vector<Triple> want = {{"a long, quoted user id (29 b)", "item \"nine\" and more", 1},
                              {"a long user id without quotes", "item \"nine\" and more", 2},
                              {"a long, quoted user id (29 b)", "123456789012345678", 3}};
  EXPECT_EQ(Triples(r), want);
  EXPECT_EQ(r.user, (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(r.item, (std::vector<int32_t>{0, 0, 1}));
}

TEST(ReadRatings, CsvQuotedAndPlainIdsInterleaved) {
  // Quoted ids are unescaped into scratch space that the next line reuses: they must be interned
  // before it is, while plain ids are interned in batches.
  std::string text = "userId,movieId,rating\n";
  std::vector<Triple> want;
  for (int k = 0; k < 200; ++k) {
    std::string user = k % 3 == 0 ? "u,\"" + std::to_string(k % 7) : "p" + std::to_string(k % 5);
    std::string item = "i" + std::to_string(k % 11);
    std::string quoted_user = k % 3 == 0 ? "\"u,\"\"" + std::to_string(k % 7) + "\"" : user;
    std::string quoted_item = k % 2 == 0 ? "\"" + item + "\"" : item;
    text += quoted_user + "," + quoted_item + "," + std::to_string(k % 5 + 1) + "\n";
    want.push_back({user, item, static_cast<float>(k % 5 + 1)});
  }
  TempDir dir;
  Ratings r;
  ASSERT_TRUE(Read(dir.Write("mix.csv", text), &r).ok());
  EXPECT_EQ(Triples(r), want);
  EXPECT_EQ(r.user_names.size(), 7u + 5u);
  EXPECT_EQ(r.item_names.size(), 11u);
}

TEST(ReadRatings, CsvOtherDelimiterWithExplicitFormat) {
  TempDir dir;
  std::string p = dir.Write("tab.csv", "user\titem\trating\na\tb\t1\n");
  Ratings r;
  ASSERT_TRUE(Read(p, &r, RatingsFormat::kCsv).ok());
  EXPECT_EQ(Triples(r), (std::vector<Triple>{{"a", "b", 1}}));
}

TEST(ReadRatings, CrlfTsvAndWhitespaceOnlyLines) {
  TempDir dir;
  std::string p = dir.Write("crlf.data", "\r\n  \t\n1\t2\t3\t4\r\n\r\n5 6 4\r\n   \n");
  Ratings r;
  ASSERT_TRUE(Read(p, &r).ok());
  EXPECT_EQ(Triples(r), (std::vector<Triple>{{"1", "2", 3}, {"5", "6", 4}}));
  EXPECT_EQ(r.skipped_lines, 0);
}

TEST(ReadRatings, RatingSpellings) {
  TempDir dir;
  std::string p =
      dir.Write("r.data", "a b 3.3\na b 4.25\na b +2\na b 1e0\na b 0\na b 5.5\na b 0.1\n");
  Ratings r;
  ASSERT_TRUE(Read(p, &r).ok());
  EXPECT_EQ(r.rating, (std::vector<float>{3.3f, 4.25f, 2.0f, 1.0f, 0.0f, 5.5f, 0.1f}));
}

TEST(ReadRatings, InternsRepeatedIdsAcrossManyNames) {
  // Enough distinct names to grow the interner several times; ids repeat out of order.
  std::string text;
  for (int k = 0; k < 5000; ++k) {
    text += "u" + std::to_string(k % 1700) + "\ti" + std::to_string((k * 7) % 3001) + "\t1\n";
  }
  TempDir dir;
  Ratings r;
  ASSERT_TRUE(Read(dir.Write("many.data", text), &r).ok());
  ASSERT_EQ(r.size(), 5000u);
  EXPECT_EQ(r.user_names.size(), 1700u);
  EXPECT_EQ(r.item_names.size(), 3001u);
  for (int k = 0; k < 5000; ++k) {
    EXPECT_EQ(r.user_names[static_cast<size_t>(r.user[static_cast<size_t>(k)])],
              "u" + std::to_string(k % 1700));
    EXPECT_EQ(r.item_names[static_cast<size_t>(r.item[static_cast<size_t>(k)])],
              "i" + std::to_string((k * 7) % 3001));
  }
}

TEST(ReadRatings, LinesAcrossChunkBoundaries) {
  // More than one 8 MiB read chunk, and one line longer than a chunk.
  std::string text;
  const int n = 600000;
  text.reserve(static_cast<size_t>(n) * 20 + (10 << 20));
  for (int k = 0; k < n; ++k) {
    text += std::to_string(k % 997) + "\t" + std::to_string(k % 1009) + "\t" +
            std::to_string(k % 5 + 1) + "\t" + std::to_string(874965758 + k) + "\n";
    if (k == n / 2) text += "7\t8\t2\t" + std::string(9 << 20, 'x') + "\n";
  }
  TempDir dir;
  Ratings r;
  ASSERT_TRUE(Read(dir.Write("big.data", text), &r).ok());
  ASSERT_EQ(r.size(), static_cast<size_t>(n) + 1);
  for (size_t k = 0; k < r.size(); ++k) {
    int line = static_cast<int>(k <= static_cast<size_t>(n / 2) ? k : k - 1);
    if (k == static_cast<size_t>(n / 2) + 1) {
      ASSERT_EQ(r.user_names[static_cast<size_t>(r.user[k])], "7");
      continue;
    }
    ASSERT_EQ(r.user_names[static_cast<size_t>(r.user[k])], std::to_string(line % 997)) << k;
    ASSERT_EQ(r.item_names[static_cast<size_t>(r.item[k])], std::to_string(line % 1009)) << k;
    ASSERT_EQ(r.rating[k], static_cast<float>(line % 5 + 1)) << k;
  }
}

TEST(ReadRatingsErrors, MissingFile) {
  Ratings r;
  ExpectError(Read("/nonexistent/dir/x.data", &r),
              {"cannot open '/nonexistent/dir/x.data'", "No such file or directory"});
  // Even with skip_bad_lines.
  ExpectError(Read("/nonexistent/dir/x.data", &r, RatingsFormat::kAuto, true), {"x.data"});
}

TEST(ReadRatingsErrors, Directory) {
  Ratings r;
  ExpectError(Read(kData, &r), {kData, "directory"});
}

TEST(ReadRatingsErrors, EmptyFileAndNoRatings) {
  Ratings r;
  ExpectError(Read(kData + "/empty.data", &r, RatingsFormat::kAuto, true),
              {"'" + kData + "/empty.data' contains no ratings"});
  TempDir dir;
  ExpectError(Read(dir.Write("blank.data", "\n\n  \n"), &r), {"blank.data", "contains no ratings"});
  ExpectError(Read(dir.Write("header.csv", "userId,movieId,rating\n"), &r),
              {"header.csv", "contains no ratings"});
  // Every line bad and skipped: still no ratings.
  ExpectError(Read(dir.Write("allbad.data", "1 2\n3 4\n"), &r, RatingsFormat::kAuto, true),
              {"allbad.data", "contains no ratings", "2 bad lines skipped"});
}

TEST(ReadRatingsErrors, TooFewFields) {
  Ratings r;
  const std::string path = kData + "/bad_line.data";
  Status s = Read(path, &r);
  ExpectError(s, {path + ":3: ", "expected 3 or more fields, got 2: '1 2'"});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);

  TempDir dir;
  ExpectError(Read(dir.Write("d.dat", "1::2::3\n1::2\n"), &r), {"d.dat:2:", "got 2", "'1::2'"});
  ExpectError(Read(dir.Write("c.csv", "userId,movieId,rating\n1,2,3\n\n1,2\n"), &r),
              {"c.csv:4:", "expected 3 or more fields, got 2", "'1,2'"});
  ExpectError(Read(dir.Write("e.csv", "a,userId,b,movieId,rating\n1,2,3,4\n"), &r),
              {"e.csv:2:", "expected 5 or more fields, got 4"});
}

TEST(ReadRatingsErrors, LongLineIsTruncatedInMessage) {
  TempDir dir;
  Ratings r;
  Status s = Read(dir.Write("long.data", "1 2 3\n" + std::string(500, 'z') + "\n"), &r);
  ExpectError(s, {"long.data:2:", "got 1", "...'"});
  EXPECT_LT(s.message().size(), 250u) << s.ToString();
}

TEST(ReadRatingsErrors, NotANumber) {
  TempDir dir;
  Ratings r;
  ExpectError(Read(dir.Write("nan.data", "1 2 3\n\n\n1 2 3\n1 2 abc\n"), &r),
              {"nan.data:5: rating 'abc' is not a number"});
  ExpectError(Read(dir.Write("nan2.data", "1 2 nan\n"), &r),
              {"nan2.data:1:", "'nan'", "not a finite number"});
  ExpectError(Read(dir.Write("inf.data", "1 2 3\n1 2 -inf\n"), &r),
              {"inf.data:2:", "'-inf'", "not a finite number"});
  ExpectError(Read(dir.Write("big.data", "1 2 1e999\n"), &r), {"big.data:1:", "not a finite"});
  ExpectError(Read(dir.Write("part.data", "1 2 3x\n"), &r),
              {"part.data:1:", "'3x'", "not a number"});
  ExpectError(Read(dir.Write("q.csv", "userId,movieId,rating\n1,2,\"\"\n"), &r),
              {"q.csv:2:", "rating ''", "not a number"});
}

TEST(ReadRatingsErrors, OutOfRange) {
  Ratings r;
  const std::string path = kData + "/out_of_range.data";
  ExpectError(Read(path, &r), {path + ":2: rating 7 is outside --y-range [0, 5.5]"});
  TempDir dir;
  ExpectError(Read(dir.Write("neg.data", "1 2 -0.5\n"), &r), {"neg.data:1:", "-0.5", "[0, 5.5]"});
  ReadOptions options;
  options.min_rating = 1;
  options.max_rating = 10;
  ASSERT_TRUE(ReadRatings(path, options, &r).ok());
  EXPECT_EQ(r.rating, (std::vector<float>{3, 7}));
  ExpectError(ReadRatings(dir.Write("zero.data", "1 2 0\n"), options, &r),
              {"zero.data:1:", "[1, 10]"});
}

TEST(ReadRatingsErrors, EmptyIdInCsv) {
  TempDir dir;
  Ratings r;
  ExpectError(Read(dir.Write("e.csv", "userId,movieId,rating\n,2,3\n"), &r),
              {"e.csv:2:", "empty user id"});
}

TEST(ReadRatingsErrors, CsvHeaderWithoutColumns) {
  TempDir dir;
  Ratings r;
  ExpectError(Read(dir.Write("h1.csv", "1,2,3\n4,5,6\n"), &r), {"h1.csv:1:", "no user column"});
  ExpectError(Read(dir.Write("h2.csv", "userId,rating\n1,2\n"), &r),
              {"h2.csv:1:", "no item column", "movieId"});
  ExpectError(Read(dir.Write("h3.csv", "\n\nuser,item,score\n1,2,3\n"), &r),
              {"h3.csv:3:", "no rating column"});
  // Header problems are not bad lines: skip_bad_lines does not hide them.
  ExpectError(Read(dir.Write("h4.csv", "1,2,3\n"), &r, RatingsFormat::kAuto, true), {"h4.csv:1:"});
}

TEST(ReadRatingsErrors, ExplicitFormatThatDoesNotFit) {
  Ratings r;
  ExpectError(Read(kData + "/small.dat", &r, RatingsFormat::kTsv),
              {"small.dat:1:", "expected 3 or more fields, got 1"});
}

TEST(ReadRatings, SkipBadLinesCounts) {
  TempDir dir;
  std::string p =
      dir.Write("mixed.data", "1 10 3\n1 2\n2 20 abc\n\n3 30 9\n4 40 nan\n5 50 4\n6 60 -1\n");
  Ratings r;
  ExpectError(Read(p, &r), {"mixed.data:2:"});
  ASSERT_TRUE(Read(p, &r, RatingsFormat::kAuto, true).ok());
  EXPECT_EQ(Triples(r), (std::vector<Triple>{{"1", "10", 3}, {"5", "50", 4}}));
  EXPECT_EQ(r.skipped_lines, 5);
  // Skipped lines do not intern their ids.
  EXPECT_EQ(r.user_names, (std::vector<std::string>{"1", "5"}));
  EXPECT_EQ(r.item_names, (std::vector<std::string>{"10", "50"}));

  Ratings b;
  ASSERT_TRUE(Read(kData + "/bad_line.data", &b, RatingsFormat::kAuto, true).ok());
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.skipped_lines, 1);
}

TEST(ReadRatings, MovieLens100k) {
  const std::string path = std::string(CFPS_SHARED_DIR) + "/data/ml-100k/u.data";
  if (::access(path.c_str(), R_OK) != 0) GTEST_SKIP() << path << " is not present";
  Ratings r;
  ASSERT_TRUE(Read(path, &r).ok());
  EXPECT_EQ(r.size(), 100000u);
  EXPECT_EQ(r.user_names.size(), 943u);
  EXPECT_EQ(r.item_names.size(), 1682u);
  EXPECT_EQ(r.skipped_lines, 0);
  // First line of u.data: 196 242 3 881250949.
  EXPECT_EQ(r.user_names[static_cast<size_t>(r.user[0])], "196");
  EXPECT_EQ(r.item_names[static_cast<size_t>(r.item[0])], "242");
  EXPECT_EQ(r.rating[0], 3.0f);
  double sum = 0;
  for (float v : r.rating) sum += v;
  EXPECT_NEAR(sum / 100000.0, 3.52986, 1e-4);
}

}  // namespace
}  // namespace cfps

namespace cfps {
namespace {

// ReadRatings with the two-thread reader forced (parallel_min_bytes 1) against one pass: the
// same names in the same order, the same arrays, the same skipped count, the same error text.
void ExpectSameAsOnePass(const std::string& path, ReadOptions options) {
  Ratings one, two;
  options.parallel_min_bytes = UINT64_MAX;
  const Status s1 = ReadRatings(path, options, &one);
  options.parallel_min_bytes = 1;
  const Status s2 = ReadRatings(path, options, &two);
  ASSERT_EQ(s1.ok(), s2.ok()) << s1.ToString() << " | " << s2.ToString();
  EXPECT_EQ(s1.ToString(), s2.ToString());
  if (!s1.ok()) return;
  EXPECT_EQ(one.user_names, two.user_names);
  EXPECT_EQ(one.item_names, two.item_names);
  EXPECT_EQ(one.user, two.user);
  EXPECT_EQ(one.item, two.item);
  EXPECT_EQ(one.rating, two.rating);
  EXPECT_EQ(one.skipped_lines, two.skipped_lines);
}

// n lines of `format`; ids repeat so both halves share names and each has its own.
std::string Lines(int n, const char* format, uint64_t seed) {
  Rng rng(seed);
  std::string text;
  for (int k = 0; k < n; ++k) {
    const std::string u = "u" + std::to_string(rng.Below(k < n / 2 ? 300 : 600));
    const std::string i = std::to_string(rng.Below(k < n / 2 ? 80 : 160));
    const std::string r = std::to_string(1 + rng.Below(5));
    if (std::strcmp(format, "tsv") == 0) text += u + "\t" + i + "\t" + r + "\t9\n";
    if (std::strcmp(format, "dat") == 0) text += u + "::" + i + "::" + r + "::9\n";
    if (std::strcmp(format, "csv") == 0) text += u + "," + i + "," + r + ",9\r\n";
  }
  return text;
}

TEST(ReadRatingsInTwo, EqualsOnePassForEveryFormat) {
  TempDir dir;
  ReadOptions o;
  ExpectSameAsOnePass(dir.Write("a.data", Lines(5000, "tsv", 1)), o);
  ExpectSameAsOnePass(dir.Write("a.dat", Lines(5000, "dat", 2)), o);
  // BOM, CRLF, a header with the columns in another order, quoted fields.
  std::string csv = "\xEF\xBB\xBFtimestamp,rating,movieId,userId\r\n";
  for (int k = 0; k < 4000; ++k) {
    csv += "9," + std::to_string(1 + k % 5) + ",\"" + std::to_string(k % 97) + "\",u" +
           std::to_string((k * 7) % 211) + "\r\n";
  }
  ExpectSameAsOnePass(dir.Write("a.csv", csv), o);
  // Blank lines around the middle, no final newline.
  std::string blanks = Lines(100, "tsv", 3) + "\n\n  \n" + Lines(100, "tsv", 4);
  blanks.pop_back();
  ExpectSameAsOnePass(dir.Write("b.data", blanks), o);
  // Two lines only; one line (no break past the middle: read in one pass).
  ExpectSameAsOnePass(dir.Write("two.data", "1\t2\t3\n4\t5\t1\n"), o);
  ExpectSameAsOnePass(dir.Write("one.data", "1\t2\t3\n"), o);
}

TEST(ReadRatingsInTwo, ErrorsNameTheLineOfTheWholeFile) {
  TempDir dir;
  ReadOptions o;
  std::string text = Lines(1000, "tsv", 5);
  // A bad line in the second half: its line number counts the first half's lines.
  std::string late = text + "7\t8\n" + Lines(10, "tsv", 6);
  ExpectSameAsOnePass(dir.Write("late.data", late), o);
  Ratings r;
  o.parallel_min_bytes = 1;
  Status s = ReadRatings(dir.path() + "/late.data", o, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("late.data:1001: "), std::string::npos) << s.message();
  // Bad lines in both halves: the first one is reported.
  std::string both = "1\t2\tx\n" + late;
  ExpectSameAsOnePass(dir.Write("both.data", both), ReadOptions());
  // Skipped and counted in both halves; an out-of-range rating; an id with a tab (csv, quoted)
  // in the second half, which even --skip-bad-lines refuses.
  ReadOptions skip;
  skip.skip_bad_lines = true;
  ExpectSameAsOnePass(dir.Write("both2.data", both + "1\t2\t99\n"), skip);
  std::string csv = "user,item,rating\n" + std::string(2000, '\n');
  for (int k = 0; k < 500; ++k) csv += "u" + std::to_string(k % 40) + ",i,3\n";
  csv += "\"a\tb\",i,3\n";
  ExpectSameAsOnePass(dir.Write("tab.csv", csv), skip);
  // A file with only a header and blank lines: "contains no ratings" either way.
  ExpectSameAsOnePass(dir.Write("empty.csv", "user,item,rating\n\n\n\n"), ReadOptions());
}

}  // namespace
}  // namespace cfps
