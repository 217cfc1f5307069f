#include "common/export.h"

#include "common/file_util.h"
#include "common/npy.h"

namespace cfps {

Status ExportModel(const std::string& dir, int k, const Vocab& user_vocab, const Vocab& item_vocab,
                   const std::vector<float>& users, const std::vector<float>& items) {
  CFPS_RETURN_IF_ERROR(MakeDirs(dir).WithContext("--export"));
  const int64_t width = k + 1;
  const int64_t nu = user_vocab.size(), ni = item_vocab.size();
  CFPS_CHECK_EQ(static_cast<int64_t>(users.size()), nu * width);
  CFPS_CHECK_EQ(static_cast<int64_t>(items.size()), ni * width);
  CFPS_RETURN_IF_ERROR(
      WriteNpyStrided(JoinPath(dir, "user_factors.npy"), users.data(), nu, k, width));
  CFPS_RETURN_IF_ERROR(
      WriteNpyStrided(JoinPath(dir, "user_bias.npy"), users.data() + k, nu, 0, width));
  CFPS_RETURN_IF_ERROR(
      WriteNpyStrided(JoinPath(dir, "item_factors.npy"), items.data(), ni, k, width));
  CFPS_RETURN_IF_ERROR(
      WriteNpyStrided(JoinPath(dir, "item_bias.npy"), items.data() + k, ni, 0, width));
  CFPS_RETURN_IF_ERROR(user_vocab.WriteTsv(JoinPath(dir, "users.tsv")));
  CFPS_RETURN_IF_ERROR(item_vocab.WriteTsv(JoinPath(dir, "items.tsv")));
  return Status::OK();
}

}  // namespace cfps
