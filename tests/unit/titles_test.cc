#include "common/titles.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/temp_dir.h"

namespace cfps {
namespace {

const std::string kData = CFPS_TEST_DATA_DIR;

using ::cfps::testing::TempDir;

// The error of parsing `data` (auto-detected), or "OK".
std::string ParseError(const std::string& name, const std::string& data,
                       TitlesFormat format = TitlesFormat::kAuto) {
  ItemTitles titles;
  return ParseItemTitles(name, data, format, &titles).ToString();
}

TEST(Latin1Test, ConvertsToUtf8) {
  EXPECT_EQ(Latin1ToUtf8("plain ASCII|1"), "plain ASCII|1");
  EXPECT_EQ(Latin1ToUtf8("Mis\xe9rables"), "Mis\xc3\xa9rables");        // é
  EXPECT_EQ(Latin1ToUtf8("\xc1 k\xf6ldum"), "\xc3\x81 k\xc3\xb6ldum");  // Á, ö
  EXPECT_EQ(Latin1ToUtf8("\xa0\xff"), "\xc2\xa0\xc3\xbf");              // nbsp, ÿ
  // 0x80-0x9f as Windows-1252: a right single quote and the euro sign (3 bytes in UTF-8).
  EXPECT_EQ(Latin1ToUtf8("Don\x92t \x80"), "Don\xe2\x80\x99t \xe2\x82\xac");
  EXPECT_EQ(Latin1ToUtf8("\x81"), "\xc2\x81");  // undefined in 1252: the C1 control
  EXPECT_TRUE(IsValidUtf8(Latin1ToUtf8(std::string("\x00\x7f\x80\x9f\xa0\xff", 6))));
}

TEST(Latin1Test, ValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("ascii"));
  EXPECT_TRUE(IsValidUtf8("Mis\xc3\xa9rables \xe2\x82\xac \xf0\x9f\x8e\xac"));
  EXPECT_FALSE(IsValidUtf8("Mis\xe9rables"));     // latin-1 é
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // a lone continuation byte
  EXPECT_EQ(Utf8Length("Mis\xc3\xa9rables"), 10u);
  EXPECT_EQ(Utf8Length("\xe2\x82\xac\xf0\x9f\x8e\xac"), 2u);
}

TEST(TitlesTest, ReadsLatin1UItem) {
  ItemTitles t;
  ASSERT_TRUE(ReadItemTitles(kData + "/items_latin1.item", TitlesFormat::kAuto, &t).ok());
  ASSERT_EQ(t.size(), 8u);
  EXPECT_EQ(t.entries()[0].id, "1");
  EXPECT_EQ(*t.Find("1"), "Toy Story (1995)");
  EXPECT_EQ(*t.Find("2"), "Mis\xc3\xa9rables, Les (1995)");
  EXPECT_EQ(*t.Find("3"), "C'est arriv\xc3\xa9 pr\xc3\xa8s de chez vous (1992)");
  EXPECT_EQ(*t.Find("4"), "Heidi Fleiss: Hollywood Madam (1995)");  // trailing space dropped
  EXPECT_EQ(*t.Find("7"), "\xc3\x81 k\xc3\xb6ldum klaka (Cold Fever) (1994)");
  EXPECT_EQ(*t.Find("8"), "unknown");
  EXPECT_EQ(t.entries()[6].line, 7);
  EXPECT_EQ(t.Find("9"), nullptr);
  for (const ItemTitle& e : t.entries()) EXPECT_TRUE(IsValidUtf8(e.title)) << e.title;
}

TEST(TitlesTest, Utf8UItemIsNotDecodedTwice) {
  ItemTitles t;
  ASSERT_TRUE(ParseItemTitles("u.item", "2|Mis\xc3\xa9rables, Les (1995)|x\r\n\r\n3|B|\n",
                              TitlesFormat::kAuto, &t)
                  .ok());
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(*t.Find("2"), "Mis\xc3\xa9rables, Les (1995)");
  EXPECT_EQ(t.entries()[1].line, 3);  // the blank line is skipped but counted
}

TEST(TitlesTest, ReadsQuotedMoviesCsv) {
  ItemTitles t;
  ASSERT_TRUE(ReadItemTitles(kData + "/movies_small.csv", TitlesFormat::kAuto, &t).ok());
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(*t.Find("1"), "Toy Story (1995)");
  EXPECT_EQ(*t.Find("11"), "American President, The (1995)");
  EXPECT_EQ(*t.Find("29"),
            "City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)");
  EXPECT_EQ(*t.Find("6000"), "\"Great Performances\" Cats (1998)");
  EXPECT_EQ(*t.Find("7000"), "A Title With A\nLine Break (2000)");
  EXPECT_EQ(*t.Find("7001"), "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)");
  EXPECT_EQ(t.entries()[4].line, 6);  // the record that spans lines 6-7
  EXPECT_EQ(t.entries()[5].line, 8);
}

TEST(TitlesTest, CsvWithBomCrlfReorderedColumnsAndLatin1) {
  ItemTitles t;
  const std::string csv =
      "\xef\xbb\xbf"
      "title,genres,movieId\r\n"
      "\"Shawshank Redemption, The (1994)\",Drama,318\r\n"
      "\"Caf\xc3\xa9 au Lait\",Comedy,1322\r\n";
  ASSERT_TRUE(ParseItemTitles("m.csv", csv, TitlesFormat::kCsv, &t).ok());
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(*t.Find("318"), "Shawshank Redemption, The (1994)");
  EXPECT_EQ(*t.Find("1322"), "Caf\xc3\xa9 au Lait");
  // The same csv in latin-1 decodes to the same titles.
  ASSERT_TRUE(
      ParseItemTitles("m.csv", "movieId,title\n1322,Caf\xe9 au Lait\n", TitlesFormat::kAuto, &t)
          .ok());
  EXPECT_EQ(*t.Find("1322"), "Caf\xc3\xa9 au Lait");
}

TEST(TitlesTest, MoviesDat) {
  ItemTitles t;
  ASSERT_TRUE(ParseItemTitles("movies.dat",
                              "1::Toy Story (1995)::Animation\n2::Jumanji (1995)::x\n",
                              TitlesFormat::kAuto, &t)
                  .ok());
  EXPECT_EQ(*t.Find("2"), "Jumanji (1995)");
}

TEST(TitlesTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(ParseError("u.item", "1|A|\ngarbage\n"),
            "u.item:2: expected 'id|title|...', got 'garbage'");
  EXPECT_EQ(ParseError("u.item", "1|A|\n|B|\n"), "u.item:2: empty item id in '|B|'");
  EXPECT_EQ(ParseError("u.item", "1|A|\n2|B|\n1|C|\n"), "u.item:3: item id '1' repeats line 1");
  EXPECT_EQ(ParseError("m.csv", "movieId,title\n1,\"open\n2,x\n"),
            "m.csv:2: unterminated quoted field");
  EXPECT_EQ(ParseError("m.csv", "movieId,title\n1,x\n2,\"a\"b,c\n"),
            "m.csv:3: unexpected character 'b' after a closing quote (a quote inside a quoted "
            "field is written as \"\")");
  EXPECT_EQ(ParseError("m.csv", "movieId,title,genres\n1,x,y\n2\n"),
            "m.csv:3: expected at least 2 fields, got 1");
  EXPECT_EQ(ParseError("m.csv", "movieId,name\n1,x\n", TitlesFormat::kCsv),
            "m.csv:1: the header must name an id column (movieId) and a title column, got "
            "'movieId,name'");
  EXPECT_EQ(ParseError("titles.txt", "just words\n"),
            "titles.txt:1: cannot tell the titles format: expected ml-100k u.item "
            "('id|title|...'), movies.csv (header movieId,title,genres) or movies.dat "
            "('id::title::...'), got 'just words'");
  EXPECT_EQ(ParseError("e.item", " \n\r\n"), "'e.item': empty titles file");
  EXPECT_EQ(ParseError("h.csv", "movieId,title\n"), "'h.csv': no titles");
}

TEST(TitlesTest, FileErrors) {
  TempDir dir;
  ItemTitles t;
  Status s = ReadItemTitles("/nonexistent/u.item", TitlesFormat::kAuto, &t);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("/nonexistent/u.item"), std::string::npos) << s.ToString();
  const std::string bad = dir.Write("bad.item", "1|Toy Story (1995)|\n2 Jumanji\n");
  s = ReadItemTitles(bad, TitlesFormat::kAuto, &t);
  EXPECT_EQ(s.ToString(), bad + ":2: expected 'id|title|...', got '2 Jumanji'");
  // The extension decides when the first line does not.
  const std::string by_ext = dir.Write("names.csv", "item,name\n1,A\n");
  EXPECT_EQ(ReadItemTitles(by_ext, TitlesFormat::kAuto, &t).ToString(),
            by_ext +
                ":1: the header must name an id column (movieId) and a title column, got "
                "'item,name'");
}

}  // namespace
}  // namespace cfps
