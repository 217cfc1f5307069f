#include "common/vocab.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

using ::cfps::testing::FileContents;
using ::cfps::testing::TempDir;

TEST(Vocab, NumericOrderWhenAllIdsAreIntegers) {
  Vocab v = Vocab::Build({"10", "2", "1", "2", "100", "-3", "9"});
  EXPECT_EQ(v.names(), (std::vector<std::string>{"-3", "1", "2", "9", "10", "100"}));
  EXPECT_EQ(v.size(), 6);
  EXPECT_EQ(v.Lookup("10"), 4);
  EXPECT_EQ(v.Lookup("-3"), 0);
  EXPECT_EQ(v.Name(3), "9");
  EXPECT_EQ(v.Lookup("3"), -1);
  EXPECT_EQ(v.Lookup(""), -1);
  EXPECT_EQ(v.Lookup("010"), -1);  // raw ids are exact strings
}

TEST(Vocab, EqualValuesSpelledDifferentlyAreOrderedByBytes) {
  Vocab v = Vocab::Build({"7", "007", "-0", "0", "8"});
  EXPECT_EQ(v.names(), (std::vector<std::string>{"-0", "0", "007", "7", "8"}));
}

TEST(Vocab, LargeIntegersStayNumeric) {
  Vocab v = Vocab::Build({"9223372036854775807", "-9223372036854775808", "5"});
  EXPECT_EQ(v.names(),
            (std::vector<std::string>{"-9223372036854775808", "5", "9223372036854775807"}));
  // One past int64: not an integer any more, so every id sorts by bytes.
  Vocab w = Vocab::Build({"9223372036854775808", "5", "10"});
  EXPECT_EQ(w.names(), (std::vector<std::string>{"10", "5", "9223372036854775808"}));
}

TEST(Vocab, LexicographicWhenAnyIdIsNotAnInteger) {
  Vocab v = Vocab::Build({"10", "2", "b", "a", "1", "+3", " 4"});
  EXPECT_EQ(v.names(), (std::vector<std::string>{" 4", "+3", "1", "10", "2", "a", "b"}));
  EXPECT_EQ(v.Lookup("a"), 5);
  EXPECT_EQ(v.Lookup("c"), -1);
  Vocab bytes = Vocab::Build({"\xc3\xa9", "z", "Z", "1.5"});
  EXPECT_EQ(bytes.names(), (std::vector<std::string>{"1.5", "Z", "z", "\xc3\xa9"}));
}

TEST(Vocab, SameRowsWhateverTheInputOrder) {
  std::vector<std::string> a = {"u3", "u1", "u2", "u1"};
  std::vector<std::string> b = {"u2", "u2", "u1", "u3"};
  EXPECT_EQ(Vocab::Build(a).names(), Vocab::Build(b).names());
}

// rows gives each input name's row, duplicates included, in both orders.
TEST(Vocab, RowsOfTheInputNames) {
  std::vector<int32_t> rows;
  Vocab v = Vocab::Build({"10", "2", "007", "2", "7", "10"}, &rows);
  EXPECT_EQ(v.names(), (std::vector<std::string>{"2", "007", "7", "10"}));
  EXPECT_EQ(rows, (std::vector<int32_t>{3, 0, 1, 0, 2, 3}));
  Vocab w = Vocab::Build({"b", "a", "b", "c"}, &rows);
  EXPECT_EQ(w.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows, (std::vector<int32_t>{1, 0, 1, 2}));
  for (const Vocab* x : {&v, &w}) {
    for (int64_t r = 0; r < x->size(); ++r) EXPECT_EQ(x->Lookup(x->Name(r)), r);
  }
}

TEST(Vocab, Empty) {
  Vocab v = Vocab::Build({});
  EXPECT_EQ(v.size(), 0);
  EXPECT_EQ(v.Lookup("1"), -1);
  Vocab d;
  EXPECT_EQ(d.size(), 0);
  EXPECT_EQ(d.Lookup("1"), -1);
}

TEST(Vocab, WriteReadRoundTrip) {
  TempDir dir;
  const std::string path = dir.path() + "/users.tsv";
  Vocab v = Vocab::Build({"b", "a c", "\xc3\xa9t\xc3\xa9", "1"});
  ASSERT_TRUE(v.WriteTsv(path).ok());
  EXPECT_EQ(FileContents(path), "0\t1\n1\ta c\n2\tb\n3\t\xc3\xa9t\xc3\xa9\n");
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"users.tsv"});  // no temporary left behind
  Vocab r;
  ASSERT_TRUE(Vocab::ReadTsv(path, &r).ok());
  EXPECT_EQ(r.names(), v.names());
  for (int64_t row = 0; row < v.size(); ++row) EXPECT_EQ(r.Lookup(v.Name(row)), row);
  EXPECT_EQ(r.Lookup("zzz"), -1);

  // Overwrites an existing file; an empty vocabulary round-trips too.
  ASSERT_TRUE(Vocab::Build({}).WriteTsv(path).ok());
  EXPECT_EQ(FileContents(path), "");
  ASSERT_TRUE(Vocab::ReadTsv(path, &r).ok());
  EXPECT_EQ(r.size(), 0);
}

TEST(Vocab, LargeRoundTrip) {
  std::vector<std::string> names;
  names.reserve(200000);
  for (int k = 0; k < 200000; ++k) names.push_back(std::to_string(k * 3));
  Vocab v = Vocab::Build(names);
  TempDir dir;
  const std::string path = dir.path() + "/items.tsv";
  ASSERT_TRUE(v.WriteTsv(path).ok());
  Vocab r;
  ASSERT_TRUE(Vocab::ReadTsv(path, &r).ok());
  EXPECT_EQ(r.names(), v.names());
  EXPECT_EQ(r.Lookup("299997"), 99999);
}

TEST(Vocab, ReadAcceptsMissingFinalNewline) {
  TempDir dir;
  Vocab r;
  ASSERT_TRUE(Vocab::ReadTsv(dir.Write("v.tsv", "0\tx\n1\ty"), &r).ok());
  EXPECT_EQ(r.names(), (std::vector<std::string>{"x", "y"}));
}

TEST(Vocab, WriteRejectsIdsTheFormatCannotHold) {
  TempDir dir;
  const std::string path = dir.path() + "/bad.tsv";
  Status s = Vocab::Build({"a\tb", "c"}).WriteTsv(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{});  // not even a temporary
}

TEST(Vocab, WriteToMissingDirectoryFails) {
  Status s = Vocab::Build({"a"}).WriteTsv("/nonexistent/dir/v.tsv");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("/nonexistent/dir/v.tsv"), std::string::npos) << s.ToString();
}

TEST(Vocab, ReadErrorsNameFileAndLine) {
  TempDir dir;
  struct Case {
    std::string contents, expect;
  };
  const std::vector<Case> cases = {
      {"0\ta\n2\tb\n", ":2: expected row 1, got 2"},
      {"1\ta\n", ":1: expected row 0, got 1"},
      {"0\ta\n1 b\n", ":2: expected 'row<TAB>raw_id'"},
      {"0\ta\nx\tb\n", ":2: row 'x' is not an integer"},
      {"0\ta\n\tb\n", ":2: row '' is not an integer"},
      {"0\ta\n1\tb\n2\ta\n", ":3: raw id 'a' repeats an earlier row"},
      {"0\ta\n\n", ":2: expected 'row<TAB>raw_id'"},
      {"0\ta\tb\n", ":1: raw id contains a tab"},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string path = dir.Write("v" + std::to_string(k) + ".tsv", cases[k].contents);
    Vocab r;
    Status s = Vocab::ReadTsv(path, &r);
    ASSERT_FALSE(s.ok()) << k;
    EXPECT_NE(s.message().find(path + cases[k].expect), std::string::npos)
        << "case " << k << ": " << s.ToString();
  }
  Vocab r;
  Status s = Vocab::ReadTsv(dir.path() + "/missing.tsv", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("missing.tsv"), std::string::npos);
}

}  // namespace
}  // namespace cfps
