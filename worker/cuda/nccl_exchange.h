#pragma once
// NcclExchange: the Exchange of the single-node multi-GPU mode (`--exchange nccl`, README.md
// "GPU"). The payload of every all-to-all (the ids, rows and gradient rows of a step) moves from
// GPU to GPU with grouped ncclSend/ncclRecv on the rank's GPU; what is small goes over MPI, through
// an MpiExchange this exchange owns: the byte counts of each all-to-all (sent before the payload,
// so a rank that died or stopped is caught there by the MPI watchdog, which names it), and the
// allreduces, broadcasts and barriers of metrics and control (summed in rank order on the host:
// the same bits as the MPI exchange). The byte counters count the payload and the MPI
// collectives, as MpiExchange counts them, not the byte counts sent ahead: on the same inputs the
// two exchanges report the same bytes.
//
// The step's bulk payload, the pulled rows and the pushed gradient rows, comes as device memory
// (AllToAllDevice, from the device-resident step of worker/trainer.h): ncclSend/ncclRecv read and
// write the caller's GPU buffers directly, nothing is staged. The rest (AllToAllV: the ids of a
// step, evaluation and the model's gathering) hands over host buffers, staged through pinned host
// memory and device buffers that grow to the largest round and are then reused. NCCL is loaded
// at run time (dlopen "libnccl.so.2"): a binary built with NCCL runs where it is absent, and asking
// for this exchange there is a clear error.
//
// Every NCCL and CUDA result is checked. An error during training (a failed call, an
// asynchronous NCCL error, a transfer that does not finish within --timeout) prints one line
// naming the rank and its GPU, aborts the NCCL communicator and ends the job with MPI_Abort.
// Built only when CUDA and nccl.h are found (CFPS_HAVE_NCCL).

#include <mpi.h>

#include <memory>

#include "common/exchange.h"
#include "common/status.h"

namespace cfps {

// Creates this rank's NCCL exchange on GPU `gpu` (cudaSetDevice'd), bootstrapped over `comm`:
// rank 0 makes the NCCL unique id and broadcasts it over MPI. Collective over `comm`. On an
// error (no NCCL library, a CUDA error, NCCL's initialisation failing or not finishing within
// `timeout_s`, two ranks on one GPU) every rank returns the error of the lowest failing rank.
Status MakeNcclExchange(MPI_Comm comm, int gpu, double timeout_s, std::unique_ptr<Exchange>* out);

}  // namespace cfps
