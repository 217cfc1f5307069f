// cfps train: options -> roles -> data -> Trainer -> epoch table, metrics, export.
#include <mpi.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/dataset.h"
#include "common/export.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/mpi_exchange.h"
#include "common/roles.h"
#include "common/thread_pool.h"
#include "launch/checkpointing.h"
#include "launch/commands.h"
#include "launch/memory_plan.h"
#include "launch/options.h"
#include "launch/progress.h"
#include "ps/optimizer.h"
#include "worker/batch.h"
#include "worker/trainer.h"
#ifdef CFPS_HAVE_NCCL
#include "worker/cuda/nccl_exchange.h"
#endif

namespace cfps {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void OnStopSignal(int sig) { g_stop_signal = sig; }

void InstallStopHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);  // mpirun forwards SIGUSR1 without aborting the job
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Agrees on failure across ranks. The lowest failing rank prints its error (one line); every rank
// learns whether any failed. Ranks that read the same file fail the same way, so one line shows.
bool AnyFailed(Exchange* ex, const Status& s) {
  double flag = s.ok() ? 0.0 : static_cast<double>(ex->size() - ex->rank());
  ex->AllReduceMax(&flag, 1);
  if (flag == 0.0) return false;
  const int first = ex->size() - static_cast<int>(flag);
  if (ex->rank() == first) LogError(s.ToString());
  return true;
}

// --data and --valid-data, when they exist, are regular files (or a directory, which the reader
// refuses by name): not a pipe (`--data <(zcat ratings.csv.gz)`), a socket or a device.
Status RequireFilesEveryRankCanRead(const DataOptions& d) {
  const std::pair<const char*, const std::string*> files[] = {{"--data", &d.data},
                                                              {"--valid-data", &d.valid_data}};
  for (const auto& [option, path] : files) {
    struct stat st;
    if (path->empty() || stat(path->c_str(), &st) != 0) continue;  // the reader names a missing one
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) continue;
    return Status::InvalidArgument(
        std::string(option) + ": '" + *path +
        "' is not a regular file (a pipe or a device): under mpirun every rank reads it, so it "
        "must be a file; write it to one (or cfps prepare it) first");
  }
  return Status::OK();
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

// One number printed with `format` ("%.6f", "%.9g"), or `missing` when it is NaN.
std::string NumberOr(const char* format, double v, const char* missing) {
  if (std::isnan(v)) return missing;
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

}  // namespace

int RunTrain(int argc, const char* const* argv) {
  const double wall_start = WallNow();
  const double cpu_start = CpuSeconds();
  // A process that no MPI launcher started runs without MPI (launch/main.cc): one rank.
  int rank = 0, size = 1, mpi = 0;
  MPI_Initialized(&mpi);
  if (mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  SetLogProgram("cfps train");
  SetLogRank(rank, size);
  std::unique_ptr<Exchange> exchange;
  if (size == 1) {
    exchange = std::make_unique<LocalExchange>();
  } else {
    exchange = std::make_unique<MpiExchange>(MPI_COMM_WORLD);
  }
  Exchange* ex = exchange.get();

  TrainOptions opt;
  std::string help;
  Status s = ParseTrainOptions(argc, argv, &opt, &help);
  if (s.ok() && help.empty()) {
    Roles probe;
    s = Roles::Make(size, opt.ps, &probe);
  }
  if (!s.ok() || !help.empty()) {
    if (rank == 0) {
      if (!s.ok()) {
        LogError(s.ToString() + " (see cfps train --help)");
      } else {
        std::fputs(help.c_str(), stdout);
      }
    }
    return s.ok() ? 0 : 2;
  }
  Roles roles;
  CFPS_CHECK(Roles::Make(size, opt.ps, &roles).ok());
  SetLogRole(roles.Describe(rank));
  std::vector<std::string> rank_names;  // for the watchdog's messages, of every exchange
  rank_names.reserve(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) rank_names.push_back(roles.Describe(r));
  ex->set_rank_names(rank_names);
  ex->set_timeout(opt.timeout);

  // --device: each worker rank takes a GPU or the CPU; one line says which (rank 0).
  ex->SetActivity("choosing the device", -1);
  std::string device_line;
  if (AnyFailed(ex, ChooseDevice(ex, roles, opt.device, &opt.train.device, &opt.train.gpu,
                                 &device_line))) {
    return 1;
  }
  if (rank == 0 && !device_line.empty()) {
    std::printf("cfps: %s\n", device_line.c_str());
    std::fflush(stdout);
  }

  // --exchange: GPU to GPU over NCCL when every rank trains on a GPU (README.md, "GPU").
  {
    double not_on_gpu = opt.train.device == Device::kCuda ? 0.0 : 1.0;
    ex->AllReduceMax(&not_on_gpu, 1);
    const bool all_on_gpu = size > 1 && not_on_gpu == 0.0;
    if (opt.exchange == "nccl" && !all_on_gpu) {
      if (rank == 0) {
        LogError(
            "--exchange nccl needs two or more ranks, every one training on its own GPU "
            "(--ps 0, one rank per GPU): use --exchange mpi otherwise");
      }
      return 1;
    }
    if (opt.exchange == "nccl" || (opt.exchange == "auto" && all_on_gpu)) {
#ifdef CFPS_HAVE_NCCL
      ex->SetActivity("starting NCCL", -1);
      std::unique_ptr<Exchange> nccl;
      Status made = MakeNcclExchange(MPI_COMM_WORLD, opt.train.gpu, opt.timeout, &nccl);
      if (made.ok()) {
        nccl->set_rank_names(rank_names);
        nccl->set_timeout(opt.timeout);
        exchange = std::move(nccl);
        ex = exchange.get();
        if (rank == 0) std::printf("cfps: exchange: NCCL between the GPUs of %d ranks\n", size);
      } else if (opt.exchange == "nccl") {
        if (rank == 0) LogError(made.ToString());
        return 1;
      } else if (rank == 0) {
        std::printf("cfps: exchange: MPI (NCCL unavailable: %s)\n", made.message().c_str());
      }
#else
      if (opt.exchange == "nccl") {
        if (rank == 0) {
          LogError(
              "--exchange nccl: this cfps was built without NCCL (nccl.h was not found at "
              "build time): use --exchange mpi");
        }
        return 1;
      }
#endif
      std::fflush(stdout);
    }
  }

  // Under mpirun every rank reads the ratings file itself: a pipe would hand each rank part of the
  // stream (one rank then found "no ratings", or the ranks trained on different data).
  if (ex->size() > 1 && AnyFailed(ex, RequireFilesEveryRankCanRead(opt.data))) return 1;
  Dataset data;
  const double baseline_rss = CurrentRssBytes();  // the process before the data and the model
  const double load_start = WallNow();
  // A rank that only serves keeps the vocabularies and the counts, not the ratings.
  if (AnyFailed(ex, BuildDataset(opt.data, &data, roles.trains(rank)))) return 1;
  const double load_seconds = WallNow() - load_start;

  // The memory plan: what is still to be allocated (the data is in) must fit in what the node has
  // available, summed over the ranks of the node, or the job stops here rather than half-way.
  // The ranks of this node share its memory (the plan) and its cores (--threads 0).
  int local_ranks = 1;
  MPI_Comm node = MPI_COMM_SELF;
  if (size > 1) {
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_ranks);
  }
  if (opt.train.threads == 0) {
    // The cores this rank may use, shared with the ranks of its node that may use them too.
    std::vector<cpu_set_t> masks(static_cast<size_t>(local_ranks));
    const cpu_set_t mine = AffinityMask();
    int local_rank = 0;
    if (size > 1) {
      MPI_Comm_rank(node, &local_rank);
      MPI_Allgather(&mine, sizeof(cpu_set_t), MPI_BYTE, masks.data(), sizeof(cpu_set_t), MPI_BYTE,
                    node);
    } else {
      masks[0] = mine;
    }
    opt.train.threads = CoreShare(masks, static_cast<size_t>(local_rank));
  } else {
    // An explicit --threads above the CPUs a rank may run on makes its threads take turns on them
    // (mpirun binds each rank to one core when a job has two ranks or fewer): say so, once, for
    // the rank with the fewest CPUs.
    struct {
      int excess;
      int rank;
    } over = {opt.train.threads - AvailableCores(), rank};
    if (size > 1) MPI_Allreduce(MPI_IN_PLACE, &over, 1, MPI_2INT, MPI_MAXLOC, MPI_COMM_WORLD);
    if (rank == 0 && over.excess > 0) {
      const int cpus = opt.train.threads - over.excess;
      LogWarning("--threads " + std::to_string(opt.train.threads) + " but rank " +
                 std::to_string(over.rank) + " may run on " + std::to_string(cpus) + " CPU" +
                 (cpus == 1 ? "" : "s") +
                 " (its affinity mask: mpirun binds each rank of a job of 2 ranks or fewer to "
                 "one core unless --bind-to none), so its threads take turns");
    }
  }
  // The fewest and the most threads of any rank, for the start-up line.
  int thread_range[2] = {-opt.train.threads, opt.train.threads};
  if (size > 1) MPI_Allreduce(MPI_IN_PLACE, thread_range, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (opt.blocked_order) {
    const int width = opt.train.dims.k + 1;
    const int64_t row_bytes = static_cast<int64_t>(sizeof(float)) *
                              (width + StateFloatsPerRow(opt.train.optimizer.kind, width));
    opt.train.order_blocks =
        opt.blocks > 0 ? opt.blocks
                       : AutoBlocks(static_cast<int64_t>(data.users.size()),
                                    static_cast<int64_t>(data.items.size()), row_bytes,
                                    static_cast<int64_t>(data.train.size()), opt.train.batch_size);
  }
  const MemoryPlan plan = PlanMemory(roles, rank, data, opt.train);
  {
    double node_need = plan.total() - plan.data;
    if (size > 1) MPI_Allreduce(MPI_IN_PLACE, &node_need, 1, MPI_DOUBLE, MPI_SUM, node);
    const double available = AvailableMemoryBytes();
    Status fits;
    if (!opt.ignore_memory_plan && available > 0 && node_need > 0.95 * available) {
      char msg[400];
      std::snprintf(msg, sizeof(msg),
                    "the memory plan needs %.1f MB more on this node (%d rank%s; this rank: %s) "
                    "but %.1f MB are available: use fewer ranks per node, more servers, a "
                    "smaller --factors or --batch-size, or --ignore-memory-plan",
                    node_need / 1e6, local_ranks, local_ranks > 1 ? "s" : "",
                    DescribePlan(plan).c_str(), available / 1e6);
      fits = Status::InvalidArgument(msg);
    }
    if (size > 1) MPI_Comm_free(&node);
    if (AnyFailed(ex, fits)) return 1;
  }

  // Outputs are opened only once the input is known good: bad input leaves no files behind.
  FILE* metrics = nullptr;
  Status out_status;
  if (rank == 0 && !opt.metrics_out.empty()) {
    metrics = std::fopen(opt.metrics_out.c_str(), "w");
    if (!metrics) {
      out_status = Status::IOError("--metrics-out: cannot create '" + opt.metrics_out + "'");
    }
  }
  // Directories that will be written later are checked now, not after hours of training.
  if (rank == 0 && out_status.ok()) {
    for (const std::string* dir : {&opt.checkpoint_dir, &opt.export_dir}) {
      if (dir->empty() || !out_status.ok()) continue;
      const char* option = dir == &opt.checkpoint_dir ? "--checkpoint-dir" : "--export";
      struct stat st;
      const bool existed = stat(dir->c_str(), &st) == 0;
      out_status = MakeDirs(*dir);
      const std::string probe = JoinPath(*dir, ".cfps-write-test");
      if (out_status.ok()) out_status = WriteFileAtomic(probe, "ok\n");
      unlink(probe.c_str());
      if (!existed) rmdir(dir->c_str());  // created again when there is something to write
      out_status = out_status.WithContext(option);
    }
  }
  if (AnyFailed(ex, out_status)) {
    if (metrics) {
      std::fclose(metrics);
      std::remove(opt.metrics_out.c_str());
    }
    return 1;
  }

  if (rank == 0) {
    std::printf(
        "cfps: %zu training ratings, %zu validation (%lld with a user or item unknown in "
        "training: predicted from a zero row), %lld users, %lld items, loaded in %.2f s\n",
        data.train.size(), data.valid.size(), static_cast<long long>(data.valid_unknown),
        static_cast<long long>(data.users.size()), static_cast<long long>(data.items.size()),
        load_seconds);
    if (data.valid.empty()) {
      std::fflush(stdout);
      char pct[32];
      std::snprintf(pct, sizeof(pct), "%g", opt.data.valid_pct);
      LogWarning("no validation ratings (--valid-pct " + std::string(pct) + " of " +
                 std::to_string(data.train.size()) +
                 " ratings holds out none): valid_loss and valid_rmse will show '-' (null in "
                 "--metrics-out); hold some out with --valid-pct or --valid-data");
    }
    if (data.skipped_lines) {
      std::printf("cfps: skipped %lld bad lines (--skip-bad-lines)\n",
                  static_cast<long long>(data.skipped_lines));
    }
    std::printf(
        "cfps: %d rank%s: %d server%s, %d worker%s; k=%d, batch %lld, %s, lr %g, wd %g, "
        "%s schedule, %d epochs%s; %s thread%s per rank\n",
        size, size > 1 ? "s" : "", roles.num_shards(), roles.num_shards() > 1 ? "s" : "",
        roles.num_workers(), roles.num_workers() > 1 ? "s" : "", opt.train.dims.k,
        static_cast<long long>(opt.train.batch_size), OptimizerName(opt.train.optimizer.kind),
        opt.train.lr, opt.train.optimizer.wd,
        opt.train.schedule == ScheduleKind::kOneCycle ? "one-cycle" : "constant", opt.train.epochs,
        opt.blocked_order ? (", blocked order (" + std::to_string(opt.train.order_blocks) + " x " +
                             std::to_string(opt.train.order_blocks) + " tiles)")
                                .c_str()
                          : "",
        (-thread_range[0] == thread_range[1]
             ? std::to_string(thread_range[1])
             : std::to_string(-thread_range[0]) + "-" + std::to_string(thread_range[1]))
            .c_str(),
        thread_range[1] > 1 ? "s" : "");
    std::printf("cfps: memory plan of rank 0 (%s): %s, process baseline %.1f MB\n",
                roles.Describe(0).c_str(), DescribePlan(plan).c_str(), baseline_rss / 1e6);
    std::fflush(stdout);
  }

  Trainer trainer(ex, roles, &data, opt.train);
  Checkpointer checkpointer(ex, roles, &trainer, &data, &opt, NewRunId(ex));
  int64_t start_step = 0;
  if (!opt.resume.empty()) {
    const double load_start = WallNow();
    Status r = checkpointer.Load(opt.resume, &start_step);
    const double load_secs = WallNow() - load_start;
    if (!r.ok()) {
      if (rank == 0) {
        LogError(r.code() == Status::Code::kCorruption
                     ? r.ToString() +
                           " (the checkpoint is damaged or from another version of "
                           "cfps: resume from another of its step directories, "
                           "--resume DIR/step-N, or train without --resume)"
                     : r.ToString());
      }
      if (metrics) {  // nothing was trained: leave no metrics file behind
        std::fclose(metrics);
        std::remove(opt.metrics_out.c_str());
      }
      return 1;
    }
    if (rank == 0) {
      std::printf(
          "cfps: resumed from %s at step %lld (epoch %lld, step %lld of it), loaded in "
          "%.2f s\n",
          opt.resume.c_str(), static_cast<long long>(start_step),
          static_cast<long long>(start_step / trainer.steps_per_epoch()),
          static_cast<long long>(start_step % trainer.steps_per_epoch()), load_secs);
      std::fflush(stdout);
    }
  }
  const int64_t total_steps = trainer.steps_per_epoch() * opt.train.epochs;
  if (rank == 0 && start_step >= total_steps) {
    std::printf(
        "cfps: the checkpoint is at the end of training (step %lld of %lld): nothing left "
        "to train\n",
        static_cast<long long>(start_step), static_cast<long long>(total_steps));
    std::fflush(stdout);
  } else if (rank == 0) {  // after a resume that can fail: no table header above an error
    std::printf("%-6s %-11s %-11s %-11s %-6s %-10s %-10s %-10s\n", "epoch", "train_loss",
                "valid_loss", "valid_rmse", "time", "ratings/s", "pulled", "pushed");
    std::fflush(stdout);
  }
  InstallStopHandlers();
  // Progress within each epoch, rank 0 on stderr (launch/progress.h).
  Progress progress(rank == 0 ? opt.progress : ProgressMode::kNone, isatty(STDERR_FILENO) != 0,
                    stderr, trainer.steps_per_epoch(), opt.train.batch_size,
                    static_cast<int64_t>(data.train.size()));
  const bool show_progress = opt.progress != ProgressMode::kNone;  // the same on every rank
  Status checkpoint_status;
  int64_t last_saved = opt.resume.empty() ? -1 : start_step;
  bool stopped = false;
  Trainer::Hooks hooks;
  hooks.after_step = [&](int64_t steps_done, bool epoch_end) {
    // A stop request (SIGTERM/SIGINT on any rank) is agreed every 16 steps and at epoch ends, so
    // every rank stops after the same step.
    double sse = -1;
    if (steps_done % 16 == 0 || epoch_end) {
      ex->SetActivity("agreeing on a stop request", steps_done);
      // With progress shown, every worker's sum of squared errors so far in the epoch rides on
      // this reduction (rank 0 shows the running loss without an extra collective).
      double values[2] = {static_cast<double>(g_stop_signal), trainer.train_sse()};
      ex->AllReduceSum(values, show_progress ? 2 : 1);
      stopped = values[0] > 0;
      if (show_progress) sse = values[1];
    }
    if (progress.enabled()) progress.Step(steps_done, WallNow(), sse);
    const bool periodic = !opt.checkpoint_dir.empty() &&
                          ((opt.checkpoint_every > 0 && steps_done % opt.checkpoint_every == 0) ||
                           (epoch_end && opt.checkpoint_epochs > 0 &&
                            (steps_done / trainer.steps_per_epoch()) % opt.checkpoint_epochs == 0));
    if ((stopped || periodic) && !opt.checkpoint_dir.empty()) {
      checkpoint_status = checkpointer.Save(steps_done);
      if (!checkpoint_status.ok()) return true;
      last_saved = steps_done;
    }
    return stopped;
  };
  hooks.on_epoch = [&](const EpochMetrics& m) {
    progress.EndEpoch();
    // No validation ratings (NaN): "-" in the table (fastai shows None), null in the metrics file.
    std::printf("%-6d %-11.6f %-11s %-11s %-6s %-10.3g %-10s %-10s\n", m.epoch, m.train_loss,
                NumberOr("%.6f", m.valid_mse, "-").c_str(),
                NumberOr("%.6f", m.valid_rmse, "-").c_str(), FormatDuration(m.seconds).c_str(),
                m.ratings_per_s, Bytes(static_cast<double>(m.bytes_pulled)).c_str(),
                Bytes(static_cast<double>(m.bytes_pushed)).c_str());
    std::fflush(stdout);
    progress.MarkStart(WallNow());
    if (metrics) {
      std::fprintf(metrics,
                   "{\"epoch\": %d, \"step\": %lld, \"train_loss\": %.9g, \"valid_mse\": %s, "
                   "\"valid_rmse\": %s, \"seconds\": %.6f, \"ratings_per_s\": %.6g, "
                   "\"bytes_pulled\": %lld, \"bytes_pushed\": %lld, \"valid_unknown\": %lld}\n",
                   m.epoch, static_cast<long long>(m.step), m.train_loss,
                   NumberOr("%.9g", m.valid_mse, "null").c_str(),
                   NumberOr("%.9g", m.valid_rmse, "null").c_str(), m.seconds, m.ratings_per_s,
                   static_cast<long long>(m.bytes_pulled), static_cast<long long>(m.bytes_pushed),
                   static_cast<long long>(m.valid_unknown));
      std::fflush(metrics);
    }
  };
  progress.MarkStart(WallNow());
  const int64_t steps_done = trainer.Train(start_step, hooks);
  progress.EndEpoch();  // a run stopped mid-epoch leaves no bar behind
  if (metrics) std::fclose(metrics);
  if (!checkpoint_status.ok()) {
    if (rank == 0) LogError(checkpoint_status.ToString());
    return 1;
  }
  if (stopped) {
    if (rank == 0) {
      if (opt.checkpoint_dir.empty()) {
        LogError("stopped by a signal after step " + std::to_string(steps_done) +
                 "; nothing was saved (pass --checkpoint-dir DIR to save a stopped run, then "
                 "--resume DIR to continue it)");
      } else {
        std::printf(
            "cfps: stopped by a signal after step %lld; checkpoint written to %s "
            "(continue with --resume %s)\n",
            static_cast<long long>(steps_done), checkpointer.StepDir(steps_done).c_str(),
            opt.checkpoint_dir.c_str());
      }
      std::fflush(stdout);
    }
    return opt.checkpoint_dir.empty() ? 1 : 0;
  }
  if (!opt.checkpoint_dir.empty() && last_saved != steps_done) {
    // Save prints "cfps: checkpoint DIR: ... MB in ... s", the last line about checkpoints.
    Status saved = checkpointer.Save(steps_done);
    if (!saved.ok()) {
      if (rank == 0) LogError(saved.ToString());
      return 1;
    }
  } else if (!opt.checkpoint_dir.empty() && rank == 0) {
    // Saved after the last step already (epoch or step interval), lines ago: say which it is.
    std::printf("cfps: checkpoint %s\n", checkpointer.StepDir(steps_done).c_str());
  }

  Status export_status;
  if (!opt.export_dir.empty()) {
    std::vector<float> users, items;
    trainer.GatherModel(0, &users, &items);
    if (rank == 0) {
      export_status =
          ExportModel(opt.export_dir, opt.train.dims.k, data.users, data.items, users, items);
      if (export_status.ok())
        std::printf("cfps: exported the model to %s\n", opt.export_dir.c_str());
    }
  }
  if (AnyFailed(ex, export_status)) return 1;

  // Per-rank CPU time against wall time: a rank that waits must not burn a core.
  std::vector<double> usage(5 * static_cast<size_t>(size), 0.0);
  usage[5 * rank] = CpuSeconds() - cpu_start;
  usage[5 * rank + 1] = WallNow() - wall_start;
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  usage[5 * rank + 2] = static_cast<double>(ru.ru_maxrss) / 1024.0;  // MB (ru_maxrss is in KB)
  usage[5 * rank + 3] = plan.peak() / 1e6;
  usage[5 * rank + 4] = baseline_rss / 1e6;
  ex->AllReduceSum(usage.data(), static_cast<int>(usage.size()));
  if (rank == 0) {
    for (int r = 0; r < size; ++r) {
      std::printf(
          "cfps: rank %d (%s): cpu %.2f s, wall %.2f s (%.0f%%), peak RSS %.0f MB (plan %.0f MB "
          "+ process baseline %.0f MB)\n",
          r, roles.Describe(r).c_str(), usage[5 * r], usage[5 * r + 1],
          100.0 * usage[5 * r] / std::max(1e-9, usage[5 * r + 1]), usage[5 * r + 2],
          usage[5 * r + 3], usage[5 * r + 4]);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace cfps
