#pragma once
// Errors of the CUDA code (defined in cuda_batch_kernels.cu): one line naming the rank and the
// GPU, then the job ends (MPI_Abort under MPI, so no rank waits forever for this one). Included by
// .cu files only: it needs the CUDA runtime's types.

#include <cuda_runtime.h>

#include <string>

namespace cfps::cuda {

[[noreturn]] void Fatal(int rank, int gpu, const std::string& gpu_name, const std::string& what);

// "out of memory (cudaErrorMemoryAllocation)".
std::string ErrorText(cudaError_t e);

// Fatal unless e is cudaSuccess: "<expr> failed: <ErrorText> at <file>:<line>".
void CheckCuda(int rank, int gpu, const std::string& gpu_name, cudaError_t e, const char* expr,
               const char* file, int line);

// "12.5 MB".
std::string Megabytes(size_t bytes);

}  // namespace cfps::cuda
