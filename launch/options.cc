#include "launch/options.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"
#include "ps/optimizer.h"

namespace po = boost::program_options;

namespace cfps {

namespace {

// "the argument 'ten' for option '--factors' is invalid: it takes an integer". Boost's own text
// names neither the value nor the type (and what() cannot be called, see DescribeOptionError),
// so the value is found again on the command line and the type in `desc`.
std::string DescribeInvalidValue(const po::invalid_option_value& e, int argc,
                                 const char* const* argv, const po::options_description& desc) {
  const std::string name = e.get_option_name();  // "--factors"
  std::string value;
  bool found = false;
  for (int k = 1; k < argc && !found; ++k) {
    const std::string arg = argv[k];
    if (arg == name && k + 1 < argc) {
      value = argv[k + 1];
      found = true;
    } else if (arg.compare(0, name.size() + 1, name + "=") == 0) {
      value = arg.substr(name.size() + 1);
      found = true;
    }
  }
  std::string type;
  if (name.size() > 2) {
    const po::option_description* d = desc.find_nothrow(name.substr(2), false);
    const po::value_semantic* v = d ? d->semantic().get() : nullptr;
    if (dynamic_cast<const po::typed_value<int>*>(v) ||
        dynamic_cast<const po::typed_value<int64_t>*>(v)) {
      type = "an integer";
    } else if (dynamic_cast<const po::typed_value<uint64_t>*>(v)) {
      type = "an integer >= 0";
    } else if (dynamic_cast<const po::typed_value<double>*>(v)) {
      type = "a number";
    }
  }
  std::string out = DescribeOptionError(e);  // "the argument for option '--x' is invalid"
  if (found) {
    // Our own text, never given to Boost: a '%' in the value is harmless here.
    out = "the argument '" + value + "' for option '" + name + "' is invalid";
  }
  if (!type.empty()) out += ": it takes " + type;
  return out;
}

// Runs the parser; turns Boost's exceptions into one-line errors.
Status Parse(int argc, const char* const* argv, const po::options_description& desc,
             const std::string& config_option, po::variables_map* vm) {
  try {
    StoreCommandLine(argc, argv, desc, nullptr, vm);
    if (!config_option.empty() && vm->count(config_option) && !vm->count("help")) {
      const std::string path = (*vm)[config_option].as<std::string>();
      std::ifstream in(path);
      if (!in) return Status::InvalidArgument("--config: cannot open '" + path + "'");
      try {
        po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), *vm);
      } catch (const po::error& e) {
        return Status::InvalidArgument("--config '" + path + "': " + DescribeOptionError(e));
      }
    }
    po::notify(*vm);
  } catch (const po::invalid_option_value& e) {
    return Status::InvalidArgument(DescribeInvalidValue(e, argc, argv, desc));
  } catch (const po::error& e) {
    return Status::InvalidArgument(DescribeOptionError(e));
  }
  return Status::OK();
}

template <typename T>
Status Positive(const char* name, T value) {
  if (value > 0) return Status::OK();
  std::ostringstream os;
  os << "--" << name << " must be > 0, got " << value;
  return Status::InvalidArgument(os.str());
}

}  // namespace

// The text of a Boost.Program_options error. Boost 1.74's error_with_option_name::what() replaces
// "%value%" (and its other placeholders) with the value until none is left, so a value or an
// option name that itself contains "%value%" never returns (found by fuzz_config; regression test
// in tests/unit/fuzz_regressions_test.cc). Such errors are described from the exception's type and
// the option's name, with every '%' made harmless, without calling what().
std::string DescribeOptionError(const boost::program_options::error& e) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (!named) return e.what();
  std::string name = named->get_option_name();
  for (char& c : name) {
    if (c == '%') c = '?';
  }
  if (dynamic_cast<const po::unknown_option*>(&e)) return "unrecognised option '" + name + "'";
  if (dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return "option '" + name + "' cannot be specified more than once";
  }
  if (dynamic_cast<const po::invalid_option_value*>(&e)) {
    return "the argument for option '" + name + "' is invalid";
  }
  if (dynamic_cast<const po::required_option*>(&e)) {
    return "the option '" + name + "' is required but missing";
  }
  return "invalid use of option '" + name + "'";
}

void StoreCommandLine(int argc, const char* const* argv, const po::options_description& desc,
                      const po::positional_options_description* positional, po::variables_map* vm) {
  // Every word no declared positional takes lands in a hidden option, and is reported.
  constexpr const char* kStray = "cfps-unexpected-argument";
  po::options_description all;
  all.add(desc);
  all.add_options()(kStray, po::value<std::vector<std::string>>());
  po::positional_options_description pos;
  if (positional != nullptr) pos = *positional;
  pos.add(kStray, -1);
  po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), *vm);
  const auto stray = vm->find(kStray);
  if (stray != vm->end()) {
    // A stored positional holds at least the one word that put it there.
    throw po::error("unexpected argument '" + stray->second.as<std::vector<std::string>>().front() +
                    "'");
  }
}

bool ParseCommandLineOrExit(int argc, const char* const* argv, const char* name,
                            const std::string& usage, const po::options_description& desc,
                            const po::positional_options_description* positional,
                            po::variables_map* vm, int* exit_code) {
  try {
    StoreCommandLine(argc, argv, desc, positional, vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    LogError(DescribeOptionError(e) + " (see cfps " + name + " --help)");
    *exit_code = 2;
    return false;
  }
  if (vm->count("help")) {
    std::ostringstream os;
    os << usage << "\n" << desc;
    std::fputs(os.str().c_str(), stdout);
    *exit_code = 0;
    return false;
  }
  return true;
}

Status ParseYRange(const std::vector<std::string>& tokens, double* lo, double* hi) {
  std::string joined;
  for (const auto& t : tokens) joined += (joined.empty() ? "" : " ") + t;
  std::string spaced = joined;
  for (char& c : spaced) {
    if (c == ',') c = ' ';
  }
  std::istringstream in(spaced);
  double a, b;
  std::string rest;
  if (!(in >> a >> b) || (in >> rest)) {
    return Status::InvalidArgument("--y-range takes two numbers LO HI, got '" + joined + "'");
  }
  if (!std::isfinite(a) || !std::isfinite(b) || !(a < b)) {
    return Status::InvalidArgument("--y-range needs finite LO < HI, got '" + joined + "'");
  }
  *lo = a;
  *hi = b;
  return Status::OK();
}

Status ParseTrainOptions(int argc, const char* const* argv, TrainOptions* out, std::string* help) {
  TrainOptions o;
  std::string format = "auto", optimizer = "adam", schedule = "one-cycle", order = "random", config,
              device;
  std::string progress = "auto";
  std::vector<std::string> y_range;
  uint64_t seed = 42;
  bool skip_bad = false;
  po::options_description data("Data", 100);
  // clang-format off
  data.add_options()
      ("data", po::value(&o.data.data), "ratings file (u.data, ratings.dat, ratings.csv, ...)")
      ("format", po::value(&format)->default_value("auto"),
       "auto|tsv|dat|csv: tsv is u.data (user item rating [timestamp]), dat is ratings.dat "
       "(user::item::rating::ts), csv has a header naming userId,movieId,rating")
      ("valid-data", po::value(&o.data.valid_data),
       "explicit validation file (e.g. ml-100k u1.test); replaces --valid-pct")
      ("valid-pct", po::value(&o.data.valid_pct)->default_value(0.2, "0.2"),
       "seeded random fraction of the ratings held out for validation")
      ("skip-bad-lines", po::bool_switch(&skip_bad),
       "skip (and count) malformed lines and out-of-range ratings instead of failing");
  // clang-format on
  po::options_description model("Model and training", 100);
  // clang-format off
  model.add_options()
      ("factors", po::value(&o.train.dims.k)->default_value(50), "embedding size k")
      ("y-range", po::value(&y_range)->multitoken(),
       "LO HI of sigmoid_range (default 0 5.5); ratings outside it are bad input")
      ("epochs", po::value(&o.train.epochs)->default_value(5), "epochs")
      ("batch-size", po::value(&o.train.batch_size)->default_value(64), "global minibatch size")
      ("lr", po::value(&o.train.lr)->default_value(5e-3, "5e-3"), "maximum learning rate")
      ("wd", po::value(&o.train.optimizer.wd)->default_value(0.1, "0.1"),
       "weight decay: decoupled for adam, coupled L2 for sgd and adagrad")
      ("optimizer", po::value(&optimizer)->default_value("adam"), "adam|sgd|adagrad")
      ("schedule", po::value(&schedule)->default_value("one-cycle"),
       "one-cycle (fastai fit_one_cycle) | constant")
      ("seed", po::value(&seed)->default_value(42), "seed of the split, the init and the order")
      ("order", po::value(&order)->default_value("random"),
       "random|blocked: the order of each epoch. random: a seeded permutation of the ratings "
       "(fastai's shuffled DataLoader); blocked: LIBMF's blocking, the rating matrix cut into "
       "B x B tiles by row ranges, the tiles in a seeded random order and each tile's ratings "
       "shuffled, so that consecutive batches share rows that stay in the caches")
      ("blocks", po::value(&o.blocks)->default_value(0),
       "B of --order blocked; 0: the smallest B whose tile's rows take at most 2 MB, capped so "
       "that a tile holds 4 batches on average (1 on small data sets: the random order)")
      ("eval-batch", po::value(&o.train.eval_batch)->default_value(16384),
       "validation ratings per worker per evaluation round")
      ("threads", po::value(&o.train.threads)->default_value(0),
       "threads per rank for the phases of a step (the result does not depend on it); 0: the "
       "cores this rank may use, shared among the ranks on its node");
  // clang-format on
  po::options_description run("Cluster and output", 100);
  // clang-format off
  run.add_options()
      ("ps", po::value(&o.ps)->default_value(1),
       "server ranks S: ranks 0..S-1 serve shards, the rest train; with one rank, or --ps 0, "
       "every rank serves a shard and trains")
      ("metrics-out", po::value(&o.metrics_out), "write one JSON line per epoch to this file")
      ("export", po::value(&o.export_dir),
       "write the final model as NumPy files + users.tsv/items.tsv into this directory")
      ("checkpoint-dir", po::value(&o.checkpoint_dir),
       "write checkpoints here: DIR/step-N/shard-s-of-S.bin, MANIFEST, and DIR/LATEST; one is "
       "always written at the end and on SIGTERM/SIGINT")
      ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(0),
       "also checkpoint every N global steps (0: off)")
      ("checkpoint-epochs", po::value(&o.checkpoint_epochs)->default_value(0),
       "also checkpoint every N epochs (0: off)")
      ("keep", po::value(&o.keep)->default_value(3), "keep the newest K complete checkpoints")
      ("resume", po::value(&o.resume),
       "continue from a checkpoint (its directory, which follows LATEST, or a step directory), "
       "onto any number of servers")
      ("timeout", po::value(&o.timeout)->default_value(300),
       "seconds a rank may wait for the others (a step, a checkpoint, start-up) before the job "
       "is aborted with a message naming the ranks that did not arrive; 0: wait forever")
      ("progress", po::value(&progress)->default_value("auto"),
       "auto|bar|lines|none: progress of each epoch on stderr (rank 0). bar: one line redrawn "
       "in place; lines: a line at every 10% of the epoch; auto: bar on a terminal, else lines "
       "for epochs of 5 s or more. The loss shown is the training MSE so far in the epoch, "
       "summed over the workers when the ranks check for stop requests (every 16 steps): no "
       "extra communication")
      ("device", po::value(&device)->default_value("auto"),
       ("auto|cpu|cuda: where workers compute the batch; auto takes a GPU when one is visible "
        "(worker ranks of a node share its GPUs round-robin), cuda fails without one. This "
        "build: " + CudaBuildInfo()).c_str())
      ("exchange", po::value(&o.exchange)->default_value("auto"),
       "auto|mpi|nccl: how the ranks exchange rows. nccl: GPU to GPU over NCCL, for one rank per "
       "GPU with every rank serving and training (--ps 0); auto: nccl when every rank trains on "
       "a GPU and NCCL loads, else mpi")
      ("ignore-memory-plan", po::bool_switch(&o.ignore_memory_plan),
       "start even when the memory plan (printed before training) needs more than the node has "
       "available")
      ("config", po::value(&config), "read options from an INI file (command line wins)")
      ("help,h", "show this help");
  // clang-format on
  po::options_description all(100);
  all.add(data).add(model).add(run);

  po::variables_map vm;
  CFPS_RETURN_IF_ERROR(Parse(argc, argv, all, "config", &vm));
  if (vm.count("help")) {
    std::ostringstream os;
    os << "cfps train: train fastbook's DotProductBias with sharded parameter servers\n\n"
          "usage: cfps train --data FILE [options]                  (one process)\n"
          "       mpirun -np P cfps train --ps S --data FILE [...]  (S servers, P-S workers)\n"
       << all;
    *help = os.str();
    return Status::OK();
  }
  help->clear();
  if (o.data.data.empty()) return Status::InvalidArgument("--data is required (a ratings file)");
  CFPS_RETURN_IF_ERROR(ParseRatingsFormat(format, &o.data.read.format));
  CFPS_RETURN_IF_ERROR(ParseOptimizerKind(optimizer, &o.train.optimizer.kind));
  CFPS_RETURN_IF_ERROR(ParseDevice(device, &o.device));
  if (o.exchange != "auto" && o.exchange != "mpi" && o.exchange != "nccl") {
    return Status::InvalidArgument("--exchange: unknown exchange '" + o.exchange +
                                   "' (expected auto, mpi or nccl)");
  }
  if (order == "blocked") {
    o.blocked_order = true;
  } else if (order != "random") {
    return Status::InvalidArgument("--order must be random or blocked, got '" + order + "'");
  }
  if (o.blocks < 0 || o.blocks > 1024) {
    return Status::InvalidArgument("--blocks must be 0 (automatic) or 1..1024, got " +
                                   std::to_string(o.blocks));
  }
  if (o.blocks != 0 && !o.blocked_order) {
    return Status::InvalidArgument("--blocks " + std::to_string(o.blocks) +
                                   " applies to --order blocked only (this run has --order "
                                   "random)");
  }
  if (schedule == "one-cycle") {
    o.train.schedule = ScheduleKind::kOneCycle;
  } else if (schedule == "constant") {
    o.train.schedule = ScheduleKind::kConstant;
  } else {
    return Status::InvalidArgument("--schedule must be one-cycle or constant, got '" + schedule +
                                   "'");
  }
  if (!y_range.empty()) {
    CFPS_RETURN_IF_ERROR(ParseYRange(y_range, &o.train.dims.lo, &o.train.dims.hi));
  }
  CFPS_RETURN_IF_ERROR(Positive("factors", o.train.dims.k));
  if (o.train.dims.k > (1 << 28)) {
    // A row (k + 1 floats) and its optimizer state must stay countable in an int.
    return Status::InvalidArgument("--factors must be at most 268435456, got " +
                                   std::to_string(o.train.dims.k));
  }
  CFPS_RETURN_IF_ERROR(Positive("epochs", o.train.epochs));
  CFPS_RETURN_IF_ERROR(Positive("batch-size", o.train.batch_size));
  CFPS_RETURN_IF_ERROR(Positive("eval-batch", o.train.eval_batch));
  if (o.train.threads < 0 || o.train.threads > 1024) {
    return Status::InvalidArgument("--threads must be in [0, 1024] (0: automatic)");
  }
  if (!(o.train.lr > 0) || !std::isfinite(o.train.lr)) {
    return Status::InvalidArgument("--lr must be a finite number > 0");
  }
  if (!(o.train.optimizer.wd >= 0) || !std::isfinite(o.train.optimizer.wd)) {
    return Status::InvalidArgument("--wd must be a finite number >= 0");
  }
  if (!o.data.valid_data.empty() && vm["valid-pct"].defaulted() == false) {
    return Status::InvalidArgument("--valid-data and --valid-pct exclude each other");
  }
  if (!(o.data.valid_pct >= 0 && o.data.valid_pct < 1)) {
    std::ostringstream os;
    os << "--valid-pct must be in [0, 1) (a fraction: 0.2 holds out 20%), got " << o.data.valid_pct;
    return Status::InvalidArgument(os.str());
  }
  CFPS_RETURN_IF_ERROR(ParseProgressMode(progress, &o.progress));
  if (o.ps < 0) return Status::InvalidArgument("--ps must be >= 0, got " + std::to_string(o.ps));
  if (!(o.timeout >= 0) || !std::isfinite(o.timeout)) {
    return Status::InvalidArgument("--timeout must be a number of seconds >= 0");
  }
  if (o.checkpoint_every < 0) return Status::InvalidArgument("--checkpoint-every must be >= 0");
  if (o.checkpoint_epochs < 0) return Status::InvalidArgument("--checkpoint-epochs must be >= 0");
  CFPS_RETURN_IF_ERROR(Positive("keep", o.keep));
  if (o.checkpoint_dir.empty() && (o.checkpoint_every > 0 || o.checkpoint_epochs > 0)) {
    return Status::InvalidArgument("--checkpoint-every/--checkpoint-epochs need --checkpoint-dir");
  }
  o.data.seed = seed;
  o.train.seed = seed;
  o.data.read.min_rating = o.train.dims.lo;
  o.data.read.max_rating = o.train.dims.hi;
  o.data.read.skip_bad_lines = skip_bad;
  *out = o;
  return Status::OK();
}

Status ParseGenOptions(int argc, const char* const* argv, GenOptions* gen, std::string* out_path,
                       std::string* help) {
  GenOptions g;
  std::string out;
  po::options_description desc("Options", 100);
  // clang-format off
  desc.add_options()
      ("users", po::value(&g.users)->default_value(943), "number of users")
      ("items", po::value(&g.items)->default_value(1682), "number of items")
      ("ratings", po::value(&g.ratings)->default_value(100000), "number of ratings")
      ("factors", po::value(&g.factors)->default_value(16), "rank of the planted model")
      ("noise", po::value(&g.noise)->default_value(0.5, "0.5"), "std of the Gaussian rating noise")
      ("seed", po::value(&g.seed)->default_value(42), "seed")
      ("out", po::value(&out),
       "output file (written atomically): u.data-like text, or the prepared binary form when "
       "it ends in .cfpsr")
      ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  CFPS_RETURN_IF_ERROR(Parse(argc, argv, desc, "", &vm));
  if (vm.count("help")) {
    std::ostringstream os;
    os << "cfps gen: a synthetic MovieLens-shaped ratings file (planted low-rank model + noise,\n"
          "Zipf item popularity), tab-separated like ml-100k u.data\n\n"
          "usage: cfps gen --out FILE [options]\n\n"
       << desc;
    *help = os.str();
    return Status::OK();
  }
  help->clear();
  if (out.empty()) return Status::InvalidArgument("--out is required (the file to write)");
  CFPS_RETURN_IF_ERROR(ValidateGenOptions(g));
  *gen = g;
  *out_path = out;
  return Status::OK();
}

std::string MainUsage() {
  return "cfps: a distributed parameter-server trainer for collaborative filtering\n"
         "(fastbook's DotProductBias: user/item embeddings + biases, sigmoid_range, MSE)\n\n"
         "usage: cfps <command> [options]      (cfps <command> --help for its options)\n\n"
         "commands:\n"
         "  train   train on a ratings file; under mpirun, ranks 0..S-1 serve shards (--ps S)\n"
         "          and the others train\n"
         "  gen     write a synthetic MovieLens-shaped ratings file (text, or binary as .cfpsr)\n"
         "  prepare parse a ratings file once into the binary form train maps (FILE.cfpsr)\n"
         "  inspect CKPT  print a checkpoint's MANIFEST and verify every checksum\n"
         "  export  write a checkpoint's model as NumPy files (--checkpoint CKPT --out DIR)\n"
         "  recommend  top-N items for a user, most similar items, item biases (from --export)\n"
         "  plot    draw train/valid loss per epoch from --metrics-out as an SVG\n\n"
         "build: " +
         CudaBuildInfo() + "\n";
}

}  // namespace cfps
