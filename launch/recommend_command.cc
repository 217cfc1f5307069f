// cfps recommend: options -> exported model (+ titles, + ratings) -> one table on stdout.
// The computing is in worker/recommend.h; this file parses, looks up and prints.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/log.h"
#include "common/ratings.h"
#include "common/titles.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "worker/recommend.h"

namespace po = boost::program_options;

namespace cfps {

namespace {

enum class Mode { kUser, kSimilar, kBiases };

struct RecommendOptions {
  std::string model;
  Mode mode = Mode::kUser;
  std::string user;     // --user
  std::string similar;  // --similar-to
  int64_t top = 10;
  std::string data;
  RatingsFormat format = RatingsFormat::kAuto;
  std::string items;
  double lo = 0.0, hi = 5.5;
};

// On --help, sets *help to the usage text and returns OK without checking anything else.
Status ParseRecommendOptions(int argc, const char* const* argv, RecommendOptions* out,
                             std::string* help) {
  RecommendOptions o;
  std::string format = "auto";
  std::vector<std::string> y_range;
  bool biases = false;
  po::options_description desc("Options", 100);
  // clang-format off
  desc.add_options()
      ("model", po::value(&o.model)->value_name("DIR"), "the --export directory of cfps train")
      ("user", po::value(&o.user)->value_name("ID"),
       "mode 1: the items with the highest predicted rating for this raw user id")
      ("similar-to", po::value(&o.similar)->value_name("ITEM"),
       "mode 2: the items most similar to this one (cosine of the item factors): a raw item id "
       "or, with --items, a title or a unique part of one")
      ("biases", po::bool_switch(&biases), "mode 3: the items with the lowest and highest biases")
      ("top", po::value(&o.top)->value_name("N"),
       "rows to show (default 10; 5 for --biases: the 5 lowest and the 5 highest)")
      ("items", po::value(&o.items)->value_name("FILE"),
       "item titles: ml-100k u.item (latin-1), movies.csv (movieId,title,genres) or movies.dat")
      ("data", po::value(&o.data)->value_name("FILE"),
       "--user: a ratings file; the items the user rated in it are not recommended")
      ("format", po::value(&format)->value_name("FMT")->default_value("auto"),
       "format of --data: auto|tsv|dat|csv")
      ("y-range", po::value(&y_range)->value_name("LO HI")->multitoken(),
       "--user: LO HI of sigmoid_range, as given to cfps train (default 0 5.5)")
      ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  try {
    StoreCommandLine(argc, argv, desc, nullptr, &vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(DescribeOptionError(e));
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << "cfps recommend: use a model exported by cfps train --export (fastbook chapter 8)\n\n"
          "usage: cfps recommend --model DIR --user ID [--data RATINGS] [--items TITLES]\n"
          "                      [--top N] [--y-range LO HI]\n"
          "       cfps recommend --model DIR --similar-to ITEM [--items TITLES] [--top N]\n"
          "       cfps recommend --model DIR --biases [--items TITLES] [--top N]\n\n"
       << desc;
    *help = os.str();
    return Status::OK();
  }
  help->clear();
  if (o.model.empty()) return Status::InvalidArgument("--model is required (a --export directory)");
  const int modes = static_cast<int>(vm.count("user")) + static_cast<int>(vm.count("similar-to")) +
                    static_cast<int>(biases);
  if (modes != 1) {
    return Status::InvalidArgument(
        modes == 0 ? "give one of --user ID, --similar-to ITEM or --biases"
                   : "--user, --similar-to and --biases exclude each other: give one");
  }
  o.mode = vm.count("user") ? Mode::kUser : vm.count("similar-to") ? Mode::kSimilar : Mode::kBiases;
  if (!vm.count("top")) o.top = o.mode == Mode::kBiases ? 5 : 10;
  if (o.top <= 0) {
    return Status::InvalidArgument("--top must be > 0, got " + std::to_string(o.top));
  }
  if (o.mode != Mode::kUser) {
    for (const char* name : {"data", "y-range"}) {
      if (vm.count(name)) {
        return Status::InvalidArgument(std::string("--") + name + " applies to --user only");
      }
    }
  }
  if (!vm["format"].defaulted() && o.data.empty()) {
    return Status::InvalidArgument("--format applies to --data only");
  }
  CFPS_RETURN_IF_ERROR(ParseRatingsFormat(format, &o.format));
  if (!y_range.empty()) CFPS_RETURN_IF_ERROR(ParseYRange(y_range, &o.lo, &o.hi));
  *out = o;
  return Status::OK();
}

// A left-aligned text table; widths count code points, so UTF-8 titles line up.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], Utf8Length(row[c]));
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        line += row[c];
        if (c + 1 < row.size()) line.append(width[c] - Utf8Length(row[c]) + 2, ' ');
      }
      std::printf("%s\n", line.c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string NumberText(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// rank, item, [title], score.
void PrintRanking(const ExportedModel& model, const ItemTitles* titles,
                  const std::vector<ScoredItem>& ranked, const char* score_name, int decimals) {
  std::vector<std::string> header = {"rank", "item"};
  if (titles) header.push_back("title");
  header.push_back(score_name);
  Table table(header);
  for (size_t j = 0; j < ranked.size(); ++j) {
    const std::string& id = model.items.Name(ranked[j].row);
    std::vector<std::string> row = {std::to_string(j + 1), id};
    if (titles) {
      const std::string* title = titles->Find(id);
      row.push_back(title ? *title : "(no title)");
    }
    row.push_back(Fixed(ranked[j].score, decimals));
    table.Add(std::move(row));
  }
  table.Print();
}

std::string Quoted(const ExportedModel& model, const ItemTitles* titles, int32_t row) {
  const std::string& id = model.items.Name(row);
  const std::string* title = titles ? titles->Find(id) : nullptr;
  return title ? id + " '" + *title + "'" : id;
}

Status Recommend(const RecommendOptions& o) {
  ExportedModel model;
  CFPS_RETURN_IF_ERROR(LoadExportedModel(o.model, &model));
  ItemTitles titles_storage;
  const ItemTitles* titles = nullptr;
  if (!o.items.empty()) {
    CFPS_RETURN_IF_ERROR(ReadItemTitles(o.items, TitlesFormat::kAuto, &titles_storage));
    titles = &titles_storage;
  }
  switch (o.mode) {
    case Mode::kUser: {
      int32_t user = -1;
      CFPS_RETURN_IF_ERROR(ResolveUser(model, o.user, &user));
      std::vector<bool> rated;
      std::string excluded;
      if (!o.data.empty()) {
        ReadOptions read;
        read.format = o.format;
        read.skip_option = "";  // recommend has no --skip-bad-lines
        // Only which items the user rated matters here, not the scale of the ratings.
        read.min_rating = std::numeric_limits<double>::lowest();
        read.max_rating = std::numeric_limits<double>::max();
        Ratings ratings;
        CFPS_RETURN_IF_ERROR(ReadRatings(o.data, read, &ratings));
        int64_t count = 0;
        rated = RatedItems(model, ratings, o.user, &count);
        excluded = "; " + std::to_string(count) + " items rated in " + o.data + " excluded";
      }
      std::vector<ScoredItem> top = TopItemsForUser(model, user, rated, o.top, o.lo, o.hi);
      std::printf("top %zu items for user %s by predicted rating (y-range %s %s%s)\n", top.size(),
                  o.user.c_str(), NumberText(o.lo).c_str(), NumberText(o.hi).c_str(),
                  excluded.c_str());
      PrintRanking(model, titles, top, "predicted", 3);
      break;
    }
    case Mode::kSimilar: {
      int32_t item = -1;
      CFPS_RETURN_IF_ERROR(ResolveItem(model, titles, o.items, o.similar, &item));
      std::vector<ScoredItem> similar = SimilarItems(model, item, o.top);
      std::printf("%zu items most similar to %s (cosine similarity of item factors)\n",
                  similar.size(), Quoted(model, titles, item).c_str());
      PrintRanking(model, titles, similar, "similarity", 4);
      break;
    }
    case Mode::kBiases: {
      std::vector<ScoredItem> lowest, highest;
      ExtremeItemBiases(model, o.top, &lowest, &highest);
      std::printf("%zu lowest item biases (disliked even by users whose tastes they match)\n",
                  lowest.size());
      PrintRanking(model, titles, lowest, "bias", 4);
      std::printf(
          "\n%zu highest item biases (liked even by users whose tastes they do not match)\n",
          highest.size());
      PrintRanking(model, titles, highest, "bias", 4);
      break;
    }
  }
  return Status::OK();
}

}  // namespace

int RunRecommend(int argc, const char* const* argv) {
  RecommendOptions options;
  std::string help;
  SetLogProgram("cfps recommend");
  Status s = ParseRecommendOptions(argc, argv, &options, &help);
  if (!s.ok()) {
    LogError(s.ToString() + " (see cfps recommend --help)");
    return 2;
  }
  if (!help.empty()) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  s = Recommend(options);
  if (!s.ok()) {
    std::fflush(stdout);
    LogError(s.ToString());
    return 1;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace cfps
