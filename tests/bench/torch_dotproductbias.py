#!/usr/bin/python3
"""PyTorch reference of fastbook chapter 8's DotProductBias, for the cfps speed benchmark.

Faithful to what `learn = Learner(dls, DotProductBias(n_users, n_movies, 50), loss_func=MSELossFlat())`
followed by `learn.fit_one_cycle(5, 5e-3, wd=0.1)` does, without needing fastai:

* model: four dense nn.Parameter tensors (user_factors, user_bias, movie_factors, movie_bias)
  made with `torch.zeros(*size).normal_(0, 0.01)`, indexed directly (`self.user_factors[x[:,0]]`),
  prediction `sigmoid_range(dot + biases, 0, 5.5)`, MSE loss.
* data: seeded random 80/20 split, exactly fastai's RandomSplitter(valid_pct=0.2, seed); the vocabularies are built
  from the training split only, index 0 is fastai's '#na#' for ids unseen in training (as Categorify).
  The training loader shuffles every epoch and drops the last partial batch (fastai: drop_last=shuffle).
* optimizer: fastai's Adam, dense over every parameter like fastai: decoupled weight decay
  `p *= 1 - lr*wd`, `m = mom*m + (1-mom)*g`, `v = 0.99*v + 0.01*g^2`,
  `p -= lr/(1-mom^t) * m / (sqrt(v/(1-0.99^t)) + 1e-5)`.
  The default (`--optimizer adamw`) is torch.optim.AdamW(foreach=True) with lr and betas set in its
  param_group every step: the same arithmetic, and the fastest stock torch path (about 3x faster than
  the per-tensor loop). `--optimizer fastai` runs the same update written by hand with torch ops;
  both give bitwise-identical losses on ml-100k.
* schedule: fit_one_cycle: lr cosine from lr_max/25 up to lr_max over the first 25% of the steps,
  then cosine down to lr_max/1e5; mom (beta1) cosine 0.95 -> 0.85 -> 0.95.
* torch.set_num_threads(1).

Throughput counts only the training loop of each epoch (the validation pass is excluded).
The final line is parseable:
  torch: ratings_per_s=R valid_mse=M epochs=E batch=B ratings_per_s_overall=R2 train_seconds=T ...
where ratings_per_s is the median of the per-epoch throughput of epochs 1..E-1 (epoch 0 is warm-up;
with one epoch it is that epoch), the same definition tests/bench/ml100k_bench.sh uses for cfps.
"""
import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def sigmoid_range(x, lo, hi):
    return torch.sigmoid(x) * (hi - lo) + lo


def create_params(size):
    return nn.Parameter(torch.zeros(*size).normal_(0, 0.01))


class DotProductBias(nn.Module):
    def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
        super().__init__()
        self.user_factors = create_params([n_users, n_factors])
        self.user_bias = create_params([n_users])
        self.movie_factors = create_params([n_movies, n_factors])
        self.movie_bias = create_params([n_movies])
        self.y_range = y_range

    def forward(self, x):
        users = self.user_factors[x[:, 0]]
        movies = self.movie_factors[x[:, 1]]
        res = (users * movies).sum(dim=1)
        res += self.user_bias[x[:, 0]] + self.movie_bias[x[:, 1]]
        return sigmoid_range(res, *self.y_range)


def sched_cos(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def one_cycle(pos, lr_max, pct_start=0.25, div=25.0, div_final=1e5, moms=(0.95, 0.85, 0.95)):
    """fastai fit_one_cycle: combined_cos for lr and mom at training progress pos in [0, 1)."""
    if pos < pct_start:
        p = pos / pct_start
        return (sched_cos(lr_max / div, lr_max, p), sched_cos(moms[0], moms[1], p))
    p = (pos - pct_start) / (1 - pct_start)
    return (sched_cos(lr_max, lr_max / div_final, p), sched_cos(moms[1], moms[2], p))


class FastaiAdam:
    """fastai.optimizer.Adam: weight_decay (decoupled), average_grad(dampening), average_sqr_grad,
    step_stat, adam_step; applied to every parameter (dense) like fastai."""

    def __init__(self, params, sqr_mom=0.99, eps=1e-5, wd=0.1):
        self.params = list(params)
        self.sqr_mom, self.eps, self.wd = sqr_mom, eps, wd
        self.grad_avg = [torch.zeros_like(p) for p in self.params]
        self.sqr_avg = [torch.zeros_like(p) for p in self.params]
        self.step_count = 0

    @torch.no_grad()
    def step(self, lr, mom):
        self.step_count += 1
        debias1 = 1 - mom ** self.step_count
        debias2 = 1 - self.sqr_mom ** self.step_count
        for p, m, v in zip(self.params, self.grad_avg, self.sqr_avg):
            g = p.grad
            p.mul_(1 - lr * self.wd)
            m.mul_(mom).add_(g, alpha=1 - mom)
            v.mul_(self.sqr_mom).addcmul_(g, g, value=1 - self.sqr_mom)
            p.addcdiv_(m, (v / debias2).sqrt_().add_(self.eps), value=-lr / debias1)

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class FastaiLazyAdam(FastaiAdam):
    """fastai's Adam on the rows in the batch only (cfps's lazy Adam): decay, moments and step
    touch the rows whose gradient is not zero; t is the global step. Params come as
    (factors, bias) pairs of one table, which share the row mask."""

    @torch.no_grad()
    def step(self, lr, mom):
        self.step_count += 1
        debias1 = 1 - mom ** self.step_count
        debias2 = 1 - self.sqr_mom ** self.step_count
        for j in range(0, len(self.params), 2):
            f, b = self.params[j], self.params[j + 1]
            rows = ((f.grad != 0).any(dim=1) | (b.grad != 0)).nonzero().squeeze(1)
            for p, m, v in ((f, self.grad_avg[j], self.sqr_avg[j]),
                            (b, self.grad_avg[j + 1], self.sqr_avg[j + 1])):
                g, pr, mr, vr = p.grad[rows], p[rows], m[rows], v[rows]
                pr.mul_(1 - lr * self.wd)
                mr.mul_(mom).add_(g, alpha=1 - mom)
                vr.mul_(self.sqr_mom).addcmul_(g, g, value=1 - self.sqr_mom)
                pr.addcdiv_(mr, (vr / debias2).sqrt_().add_(self.eps), value=-lr / debias1)
                p[rows], m[rows], v[rows] = pr, mr, vr


class TorchAdamW:
    """torch.optim.AdamW with lr and betas set per step: the same arithmetic as fastai's Adam."""

    def __init__(self, params, sqr_mom=0.99, eps=1e-5, wd=0.1):
        self.opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, sqr_mom), eps=eps,
                                     weight_decay=wd, foreach=True)
        self.sqr_mom = sqr_mom

    def step(self, lr, mom):
        for g in self.opt.param_groups:
            g["lr"] = lr
            g["betas"] = (mom, self.sqr_mom)
        self.opt.step()

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)


def load_ratings(path):
    """u.data (tab), ratings.dat (::) or a csv with a header userId,movieId,rating."""
    with open(path, "r", encoding="latin-1") as f:
        first = f.readline()
    if "::" in first:
        raw = np.loadtxt(path, delimiter="::", usecols=(0, 1, 2), dtype=np.float64, encoding="latin-1")
    elif "," in first:
        raw = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2), dtype=np.float64)
    else:
        raw = np.loadtxt(path, usecols=(0, 1, 2), dtype=np.float64)
    return raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64), raw[:, 2].astype(np.float32)


def categorify(train_ids, valid_ids):
    """fastai Categorify: vocab from the training split, index 0 = '#na#' for unseen ids."""
    vocab = np.unique(train_ids)
    lookup = {int(v): i + 1 for i, v in enumerate(vocab)}
    tr = np.array([lookup[int(v)] for v in train_ids], dtype=np.int64)
    va = np.array([lookup.get(int(v), 0) for v in valid_ids], dtype=np.int64)
    return tr, va, len(vocab) + 1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.environ.get(
        "ML100K", os.path.join(here, "..", "..", "..", "shared", "data", "ml-100k", "u.data"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=default_data, help="ratings file (default: $ML100K or "
                    "../shared/data/ml-100k/u.data relative to the repository root)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--factors", type=int, default=50)
    ap.add_argument("--valid-pct", type=float, default=0.2)
    ap.add_argument("--valid-data", default=None,
                    help="explicit validation file (e.g. u1.test); --data is then all training")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--optimizer", choices=["adamw", "fastai", "lazy"], default="adamw",
                    help="adamw: torch.optim.AdamW (foreach); fastai: the same Adam by hand with torch ops; "
                    "lazy: that Adam on the rows in the batch only (as cfps)")
    args = ap.parse_args()

    if not os.path.exists(args.data):
        sys.exit(f"torch: no data file {args.data} (set --data or $ML100K)")
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    users, items, ratings = load_ratings(args.data)
    if args.valid_data:
        vu_raw, vi_raw, vr_raw = load_ratings(args.valid_data)
        n_train_raw = len(ratings)
        users = np.concatenate([users, vu_raw])
        items = np.concatenate([items, vi_raw])
        ratings = np.concatenate([ratings, vr_raw])
        train_idx = np.arange(n_train_raw)
        valid_idx = np.arange(n_train_raw, len(ratings))
    else:
        n = len(ratings)
        # fastai's RandomSplitter(valid_pct, seed): torch.manual_seed(seed); torch.randperm(n).
        torch.manual_seed(args.seed)
        perm = torch.randperm(n).numpy()
        n_valid = int(args.valid_pct * n)
        valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    tu, vu, n_users = categorify(users[train_idx], users[valid_idx])
    ti, vi, n_items = categorify(items[train_idx], items[valid_idx])
    x_train = torch.from_numpy(np.stack([tu, ti], axis=1))
    y_train = torch.from_numpy(ratings[train_idx])
    x_valid = torch.from_numpy(np.stack([vu, vi], axis=1))
    y_valid = torch.from_numpy(ratings[valid_idx])
    n_train = len(y_train)
    bs = args.batch_size
    steps_per_epoch = n_train // bs  # drop_last, as fastai's shuffled training DataLoader
    if steps_per_epoch == 0:
        sys.exit("torch: batch size larger than the training set")
    total_steps = steps_per_epoch * args.epochs
    print(f"torch {torch.__version__}: {n_train} training ratings, {len(y_valid)} validation, "
          f"{n_users - 1} users, {n_items - 1} items (+ #na#); k={args.factors}, batch {bs}, "
          f"optimizer {args.optimizer}, lr {args.lr}, wd {args.wd}, one-cycle, {args.epochs} epochs, "
          f"{torch.get_num_threads()} thread(s)", flush=True)

    model = DotProductBias(n_users, n_items, args.factors)
    params = [model.user_factors, model.user_bias, model.movie_factors, model.movie_bias]
    opt = {"fastai": FastaiAdam, "lazy": FastaiLazyAdam, "adamw": TorchAdamW}[args.optimizer](
        params, wd=args.wd)
    loss_fn = nn.MSELoss()

    print("epoch  train_loss  valid_loss  train_s  ratings/s", flush=True)
    per_epoch_rate, train_seconds, valid_mse, step = [], 0.0, float("nan"), 0
    for epoch in range(args.epochs):
        order = torch.randperm(n_train)
        train_sse = 0.0
        t0 = time.perf_counter()
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            xb, yb = x_train[idx], y_train[idx]
            lr, mom = one_cycle(step / total_steps, args.lr)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step(lr, mom)
            train_sse += loss.item() * bs
            step += 1
        t1 = time.perf_counter()
        with torch.no_grad():
            valid_mse = float(((model(x_valid) - y_valid) ** 2).mean())
        seconds = t1 - t0
        rate = steps_per_epoch * bs / seconds
        train_seconds += seconds
        per_epoch_rate.append(rate)
        print(f"{epoch:<6d} {train_sse / (steps_per_epoch * bs):<11.6f} {valid_mse:<11.6f} "
              f"{seconds:<8.3f} {rate:.4g}", flush=True)

    steady = per_epoch_rate[1:] if len(per_epoch_rate) > 1 else per_epoch_rate
    overall = steps_per_epoch * bs * args.epochs / train_seconds
    print(f"torch: ratings_per_s={statistics.median(steady):.6g} valid_mse={valid_mse:.6f} "
          f"epochs={args.epochs} batch={bs} ratings_per_s_overall={overall:.6g} "
          f"train_seconds={train_seconds:.3f} optimizer={args.optimizer} threads={torch.get_num_threads()}",
          flush=True)


if __name__ == "__main__":
    main()
