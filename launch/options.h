#pragma once
// Command-line and --config (INI) options of the cfps subcommands, parsed with
// Boost.Program_options. Names and defaults are a contract (README.md): defaults are fastai's.
// Parsing never throws to the caller: every problem is a Status naming the option.

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "common/status.h"
#include "common/synthetic.h"
#include "launch/progress.h"
#include "worker/trainer.h"

namespace cfps {

struct TrainOptions {
  DataOptions data;
  TrainConfig train;
  int ps = 1;
  std::string metrics_out;
  std::string export_dir;
  // Checkpoints (README.md, "Checkpoints").
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;  // steps; 0 = off
  int checkpoint_epochs = 0;     // epochs; 0 = off
  int keep = 3;
  std::string resume;               // a checkpoint directory or step directory
  bool ignore_memory_plan = false;  // --ignore-memory-plan
  double timeout = 300;             // seconds a rank may wait for the others; 0 = forever
  ProgressMode progress = ProgressMode::kAuto;  // --progress (launch/progress.h)
  Device device = Device::kAuto;  // --device; resolved per rank into train.device/train.gpu
  std::string exchange = "auto";  // --exchange: auto|mpi|nccl
  bool blocked_order = false;     // --order blocked (else random)
  int blocks = 0;                 // --blocks; 0: AutoBlocks (worker/batch.h)
};

// On --help, sets *help to the usage text and returns OK without validating anything else.
Status ParseTrainOptions(int argc, const char* const* argv, TrainOptions* out, std::string* help);
Status ParseGenOptions(int argc, const char* const* argv, GenOptions* gen, std::string* out_path,
                       std::string* help);
std::string MainUsage();

// One line for a Boost.Program_options error. Never calls Boost 1.74's what() on an error that
// names an option: it loops forever when the name or value contains "%value%" (fuzz_config).
std::string DescribeOptionError(const boost::program_options::error& e);

// po::store of the command line parsed with `desc` and `positional` (null: the command takes no
// positional arguments). A word that is neither an option, an option's value nor a declared
// positional argument throws a po::error whose what() is "unexpected argument 'WORD'": Boost
// would otherwise drop it without a word (`cfps gen --out f.data 1000` made the default size).
void StoreCommandLine(int argc, const char* const* argv,
                      const boost::program_options::options_description& desc,
                      const boost::program_options::positional_options_description* positional,
                      boost::program_options::variables_map* vm);

// The command-line parse of a subcommand that reports its own errors (cfps prepare, inspect,
// export): StoreCommandLine, then notify. Returns true when the command goes on. Otherwise sets
// *exit_code: 0 after printing `usage`, a blank line and `desc` to stdout (--help, which `desc`
// must declare), or 2 after logging one line "ERROR (see cfps NAME --help)".
bool ParseCommandLineOrExit(
    int argc, const char* const* argv, const char* name, const std::string& usage,
    const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional,
    boost::program_options::variables_map* vm, int* exit_code);

// The value of --y-range (cfps train, cfps recommend): two numbers LO HI with LO < HI, both
// finite, given as two tokens ("1", "5": the command line) or one ("1 5" or "1,5": an INI file).
// On success sets *lo and *hi; otherwise leaves them alone and returns InvalidArgument naming
// --y-range and quoting the tokens.
Status ParseYRange(const std::vector<std::string>& tokens, double* lo, double* hi);

}  // namespace cfps
