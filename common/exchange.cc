#include "common/exchange.h"

#include <string>

namespace cfps {

std::string Exchange::RankName(int rank) const {
  std::string out = "rank " + std::to_string(rank);
  if (static_cast<size_t>(rank) < rank_names_.size()) out += " (" + rank_names_[rank] + ")";
  return out;
}

void Exchange::AllToAllDevice(DeviceMemory* memory, const std::vector<DeviceSpan>& send,
                              const std::vector<DeviceSpan>& recv) {
  const size_t n = static_cast<size_t>(size()), me = static_cast<size_t>(rank());
  CFPS_CHECK_EQ(send.size(), n);
  CFPS_CHECK_EQ(recv.size(), n);
  CFPS_CHECK_EQ(send[me].bytes, recv[me].bytes);
  if (send[me].bytes > 0) memory->CopyOnDevice(recv[me].data, send[me].data, send[me].bytes);
  device_send_.resize(n);
  for (size_t p = 0; p < n; ++p) {
    Buffer& b = device_send_[p];
    b.resize(p == me ? 0 : send[p].bytes);
    if (!b.empty()) memory->CopyToHost(b.data(), send[p].data, b.size());
  }
  AllToAllV(&device_send_, &device_recv_);
  for (size_t p = 0; p < n; ++p) {
    if (p == me) continue;
    const Buffer& b = device_recv_[p];
    CFPS_CHECK_EQ(b.size(), recv[p].bytes);
    if (!b.empty()) memory->CopyFromHost(recv[p].data, b.data(), b.size());
  }
}

Status AgreeOnStatus(Exchange* exchange, const Status& local) {
  const int size = exchange->size(), rank = exchange->rank();
  double flag = local.ok() ? 0.0 : static_cast<double>(size - rank);
  exchange->AllReduceMax(&flag, 1);
  if (flag == 0.0) return Status::OK();
  const int root = size - static_cast<int>(flag);
  std::string text = rank == root ? local.message() : std::string();
  double meta[2] = {rank == root ? static_cast<double>(text.size()) : 0.0,
                    rank == root ? static_cast<double>(local.code()) : 0.0};
  exchange->Broadcast(meta, sizeof(meta), root);
  text.resize(static_cast<size_t>(meta[0]));
  if (!text.empty()) exchange->Broadcast(&text[0], text.size(), root);
  if (root != 0) text = "rank " + std::to_string(root) + ": " + text;
  switch (static_cast<Status::Code>(static_cast<int>(meta[1]))) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(text);
    case Status::Code::kNotFound:
      return Status::NotFound(text);
    case Status::Code::kCorruption:
      return Status::Corruption(text);
    case Status::Code::kIOError:
      return Status::IOError(text);
    default:
      return Status::Internal(text);
  }
}

}  // namespace cfps
