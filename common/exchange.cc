#include "common/exchange.h"

#include <string>

namespace cfps {

std::string Exchange::RankName(int rank) const {
  std::string out = "rank " + std::to_string(rank);
  if (static_cast<size_t>(rank) < rank_names_.size()) out += " (" + rank_names_[rank] + ")";
  return out;
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
