#pragma once
// The cfps subcommands. Each returns the process exit status: 0 success, 1 a runtime error (bad
// data, an unwritable file), 2 a usage error. main() owns MPI_Init/MPI_Finalize; RunTrain is
// collective over MPI_COMM_WORLD.

namespace cfps {

int RunTrain(int argc, const char* const* argv);
int RunGen(int argc, const char* const* argv);
int RunRecommend(int argc, const char* const* argv);  // launch/recommend_command.cc
int RunPlot(int argc, const char* const* argv);       // launch/plot_command.cc
int RunInspect(int argc, const char* const* argv);    // launch/checkpoint_commands.cc
int RunExport(int argc, const char* const* argv);     // launch/checkpoint_commands.cc
int RunPrepare(int argc, const char* const* argv);    // launch/prepare_command.cc

}  // namespace cfps
