// cfps: one binary for every role; what a rank does follows from its rank (common/roles.h).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace {

// True when an MPI launcher started this process (mpirun/mpiexec of Open MPI or MPICH, srun with
// PMI or PMIx). Otherwise `cfps train` is one process and does not initialise MPI: Open MPI's
// singleton start-up (it launches its runtime daemon) took 0.6 s of the 1.3 s a prepared ML-25M
// needed before its first step, and a single rank exchanges nothing.
bool StartedByMpiLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(cfps::MainUsage().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // The subcommand sees its own name as argv[0].
  const int sub_argc = argc - 1;
  const char* const* sub_argv = argv + 1;
  if (command == "gen") return cfps::RunGen(sub_argc, sub_argv);
  if (command == "recommend") return cfps::RunRecommend(sub_argc, sub_argv);
  if (command == "plot") return cfps::RunPlot(sub_argc, sub_argv);
  if (command == "inspect") return cfps::RunInspect(sub_argc, sub_argv);
  if (command == "export") return cfps::RunExport(sub_argc, sub_argv);
  if (command == "prepare") return cfps::RunPrepare(sub_argc, sub_argv);
  if (command == "train") {
    // Open MPI's shared-memory transport sends messages over 4 KB with a rendezvous that stalls
    // until the receiver next enters MPI; a step's rows (about 26 KB at batch 64, k=50) then wait
    // on the other rank's compute. Sending up to 64 KB eagerly made ml-100k at batch 64 1.25x
    // faster with 1 server + 1 worker and 1.6x with 1 server + 2 workers (medians of 3
    // interleaved runs on the 2-core VM). Explicit settings win (no overwrite).
    setenv("OMPI_MCA_btl_vader_eager_limit", "65536", 0);
    setenv("OMPI_MCA_btl_vader_max_send_size", "131072", 0);
    const bool mpi = StartedByMpiLauncher();
    int provided = 0;
    if (mpi) MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rc = cfps::RunTrain(sub_argc, sub_argv);
    if (mpi) MPI_Finalize();
    return rc;
  }
  cfps::LogError("unknown command '" + command + "' (try: cfps --help)");
  return 2;
}
