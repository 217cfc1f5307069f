#pragma once
// The exported model, in fastbook's layout: user_factors.npy (n_users x k float32),
// user_bias.npy (n_users), item_factors.npy (n_items x k), item_bias.npy (n_items), and
// users.tsv / items.tsv ("row<TAB>raw_id" per line). Every file is written atomically.

#include <string>
#include <vector>

#include "common/status.h"
#include "common/vocab.h"

namespace cfps {

// users / items: rows of k+1 floats (factors, then bias), in global row order.
Status ExportModel(const std::string& dir, int k, const Vocab& user_vocab, const Vocab& item_vocab,
                   const std::vector<float>& users, const std::vector<float>& items);

}  // namespace cfps
