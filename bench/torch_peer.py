#!/usr/bin/env python3
"""PyTorch peer for the align4j report: the same shapes, the same kernels, on the CPU (or, with --device cuda,
on the GPU machine's PyTorch). Log-probs:

  fwd          log_softmax(z).gather(label)                       (no autograd)
  fwd+entropy  the same plus H = -sum(exp(ls) * ls)               (no autograd)
  bwd          autograd of logp w.r.t. z, upstream dlogp          (graph kept, backward timed alone)
  bwd+entropy  autograd of (logp, H), upstream (dlogp, dentropy)

The small kernels, as TRL's PyTorch code computes them (--bt-shapes BxT for policyloss/gae/klshaping,
--pairs B for preference/reward): PPO policy loss (ratio, pg_losses, pg_losses2, max, masked_mean,
clipfrac, approxkl) and value loss with autograd for the gradient; GAE as TRL's python loop over t (and a
vectorised [T, B] in-place loop, "gae (vectorised)"); whitening as masked_whiten; KL shaping (k1); DPO
sigmoid / IPO / SimPO loss + metrics + autograd; the reward-model loss; RMSNorm as transformers' LlamaRMSNorm
(--nc-shapes NxC; fwd without autograd, bwd = autograd of a kept graph, upstream dout); SwiGLU as transformers'
LlamaMLP computes it, silu(gate) * up, on the two halves of the fused gate|up projection (--swiglu-shapes NxF; fwd
and bwd likewise); causal attention as transformers' eager path computes it (matmul, masked fp32 softmax, matmul;
repeat_kv for grouped heads) and through torch 1.13's F._scaled_dot_product_attention(is_causal=True) ("(sdpa)"),
--attn-shapes BxHxHkvxTxD. The small kernels take microseconds to a few ms:
each figure is the median of --reps samples, each the mean of a batch of calls lasting >= 20 ms.

Log-probs: median of --reps calls after --warmup (each ended by torch.cuda.synchronize() on a GPU), torch threads =
number of cores. Prints torch's 2048^2 fp32 matmul
GFLOP/s first (DESIGN.md: without an optimised BLAS the peer is not a fair one). With --align4j-csv (the
Report main's --csv) it prints one table joining align4j, naive, PyTorch and the floor.

  /usr/bin/python3 bench/torch_peer.py --shapes 4096x32000 --align4j-csv /tmp/align4j.csv
  /usr/bin/python3 bench/torch_peer.py --families policyloss,gae --bt-shapes 256x1024
"""
import argparse
import csv
import math
import os
import statistics
import time

import torch

KERNELS = ["fwd", "fwd+entropy", "bwd", "bwd+entropy"]


DEVICE = "cpu"
# --clock thread-cpu: the calling thread's CPU time (with --threads 1): per-core cost on a machine shared with other jobs
CLOCK = time.perf_counter


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        sync()
        times.append((CLOCK() - t0) * 1e3)
    return statistics.median(times)


def matmul_gflops(n=2048, reps=5):
    a = torch.randn(n, n, device=DEVICE)
    b = torch.randn(n, n, device=DEVICE)
    ms = median_ms(lambda: torch.mm(a, b), 2, reps)
    return 2 * n ** 3 / (ms * 1e6)


def blas_in_use():
    """The BLAS library mapped into this process (Debian's torch uses whatever libblas.so.3 points to)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                name = line.split()[-1]
                if "blas" in os.path.basename(name).lower():
                    libs.add(os.path.realpath(name))
    except OSError:
        pass
    return ", ".join(sorted(libs)) or "unknown"


def mem_available_bytes():
    if DEVICE.startswith("cuda"):
        return torch.cuda.mem_get_info()[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_shape(n, v, warmup, reps, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    z = torch.randn(n, v, generator=g, device=DEVICE).mul_(2.0)
    y = torch.randint(0, v, (n, 1), generator=g, device=DEVICE)
    dlogp = torch.rand(n, generator=g, device=DEVICE) * 2 - 1
    dent = torch.rand(n, generator=g, device=DEVICE) * 2 - 1
    out = {}

    def fwd():
        with torch.no_grad():
            return torch.log_softmax(z, -1).gather(1, y).squeeze(1)

    def fwd_ent():
        with torch.no_grad():
            ls = torch.log_softmax(z, -1)
            return ls.gather(1, y).squeeze(1), -(ls.exp() * ls).sum(-1)

    out["fwd"] = median_ms(fwd, warmup, reps)
    out["fwd+entropy"] = median_ms(fwd_ent, warmup, reps)

    zg = z.requires_grad_(True)
    ls = torch.log_softmax(zg, -1)
    logp = ls.gather(1, y).squeeze(1)
    out["bwd"] = median_ms(lambda: torch.autograd.grad(logp, zg, dlogp, retain_graph=True), warmup, reps)
    del ls, logp
    ls = torch.log_softmax(zg, -1)
    logp = ls.gather(1, y).squeeze(1)
    ent = -(ls.exp() * ls).sum(-1)
    out["bwd+entropy"] = median_ms(
        lambda: torch.autograd.grad((logp, ent), zg, (dlogp, dent), retain_graph=True), warmup, reps)
    return out


# ------------------------------------------------------------------------ the small kernels, as TRL writes them
#
# Each call is what align4j's one call does: loss + metrics (read back with .item(), as align4j's stats are) +
# the gradient by autograd (torch.autograd.grad on leaves made once); GAE, whitening and KL shaping have no
# gradient (TRL runs them under no_grad). Same shapes and input distributions as the Java side.

F = torch.nn.functional
EPS = 0.2


def median_ms_per_call(fn, reps, warmup_s=0.3, sample_ms=20.0):
    """Like the Java report: warm up by time, then `reps` samples, each the mean of a batch lasting >= sample_ms."""
    end = CLOCK() + warmup_s
    n = 0
    while CLOCK() < end or n < 3:
        fn()
        n += 1
    sync()
    t0 = CLOCK()
    for _ in range(3):
        fn()
    sync()
    per = max(1e-9, (CLOCK() - t0) / 3)
    batch = max(1, min(1 << 22, math.ceil(sample_ms / 1e3 / per)))
    times = []
    for _ in range(reps):
        t0 = CLOCK()
        for _ in range(batch):
            fn()
        sync()
        times.append((CLOCK() - t0) * 1e3 / batch)
    return statistics.median(times)


def masked_mean(values, mask, axis=None):
    """TRL's masked_mean."""
    if axis is not None:
        return (values * mask).sum(axis=axis) / mask.sum(axis=axis)
    return (values * mask).sum() / mask.sum()


def masked_var(values, mask, unbiased=True):
    """TRL's masked_var."""
    mean = masked_mean(values, mask)
    centered_values = values - mean
    variance = masked_mean(centered_values ** 2, mask)
    if unbiased:
        mask_sum = mask.sum()
        bessel_correction = mask_sum / (mask_sum - 1)
        variance = variance * bessel_correction
    return variance


def masked_whiten(values, mask, shift_mean=True):
    """TRL's masked_whiten."""
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened += mean
    return whitened


def prefix_mask(g, b, t):
    """Right-padded response mask, row lengths uniform in [T/2, T] (as SmallKernels.prefixMask)."""
    lengths = t // 2 + torch.randint(0, t - t // 2 + 1, (b,), generator=g, device=DEVICE)
    lengths = lengths.clamp(min=1, max=t)
    return torch.arange(t, device=DEVICE)[None, :] < lengths[:, None]


def run_policyloss(b, t, reps, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    old = -3 * torch.rand(b, t, generator=g, device=DEVICE)
    new = (old + 0.2 * torch.randn(b, t, generator=g, device=DEVICE)).requires_grad_(True)
    adv = torch.randn(b, t, generator=g, device=DEVICE)
    mask = prefix_mask(g, b, t)
    v = torch.randn(b, t, generator=g, device=DEVICE)
    vold = v + 0.2 * torch.randn(b, t, generator=g, device=DEVICE)
    ret = torch.randn(b, t, generator=g, device=DEVICE)
    vpred = v.clone().requires_grad_(True)

    def policy():  # TRL PPOTrainer
        logprobs_diff = new - old
        ratio = torch.exp(logprobs_diff)
        pg_losses = -adv * ratio
        pg_losses2 = -adv * torch.clamp(ratio, 1.0 - EPS, 1.0 + EPS)
        pg_loss_max = torch.max(pg_losses, pg_losses2)
        pg_loss = masked_mean(pg_loss_max, mask)
        (grad,) = torch.autograd.grad(pg_loss, new)
        with torch.no_grad():
            pg_clipfrac = masked_mean((pg_losses2 > pg_losses).float(), mask)
            approxkl = 0.5 * (logprobs_diff ** 2).mean()
        return pg_loss.item(), pg_clipfrac.item(), approxkl.item(), grad

    def value():  # TRL PPOTrainer
        vpredclipped = torch.clamp(vpred, vold - EPS, vold + EPS)
        vf_losses1 = torch.square(vpred - ret)
        vf_losses2 = torch.square(vpredclipped - ret)
        vf_loss_max = torch.max(vf_losses1, vf_losses2)
        vf_loss = 0.5 * masked_mean(vf_loss_max, mask)
        (grad,) = torch.autograd.grad(vf_loss, vpred)
        with torch.no_grad():
            vf_clipfrac = masked_mean((vf_losses2 > vf_losses1).float(), mask)
        return vf_loss.item(), vf_clipfrac.item(), grad

    return {"policy": median_ms_per_call(policy, reps), "value": median_ms_per_call(value, reps)}


def run_gae(b, t, reps, seed, gamma=1.0, lam=0.95):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    r = 0.1 * torch.randn(b, t, generator=g, device=DEVICE)
    v = torch.randn(b, t, generator=g, device=DEVICE)
    mask = prefix_mask(g, b, t)
    padding_mask = ~mask
    x = torch.randn(b, t, generator=g, device=DEVICE)

    @torch.no_grad()
    def gae_trl():  # TRL PPOTrainer: padding zeroed, python loop over t, each step a [B] op, then stack
        values = torch.masked_fill(v, padding_mask, 0)
        rewards = torch.masked_fill(r, padding_mask, 0)
        lastgaelam = 0
        advantages_reversed = []
        gen_length = t
        for s in reversed(range(gen_length)):
            nextvalues = values[:, s + 1] if s < gen_length - 1 else 0.0
            delta = rewards[:, s] + gamma * nextvalues - values[:, s]
            lastgaelam = delta + gamma * lam * lastgaelam
            advantages_reversed.append(lastgaelam)
        advantages = torch.stack(advantages_reversed[::-1], axis=1)
        returns = advantages + values
        return advantages, returns

    @torch.no_grad()
    def gae_vec():  # the same loop made cheap: [T, B] contiguous rows, preallocated output, in-place ops
        values = torch.masked_fill(v, padding_mask, 0)
        vt = values.t().contiguous()
        rt = torch.masked_fill(r, padding_mask, 0).t().contiguous()
        adv = torch.empty_like(vt)
        nxt_v = torch.zeros(b, device=DEVICE)
        nxt_a = torch.zeros(b, device=DEVICE)
        gl = gamma * lam
        for s in range(t - 1, -1, -1):
            a = adv[s]
            torch.add(rt[s], nxt_v, alpha=gamma, out=a)
            a.sub_(vt[s]).add_(nxt_a, alpha=gl)
            nxt_v, nxt_a = vt[s], a
        advantages = adv.t().contiguous()
        return advantages, advantages + values

    @torch.no_grad()
    def whiten():  # TRL: masked_whiten then masked_fill(padding, 0)
        w = masked_whiten(x, mask)
        return torch.masked_fill(w, padding_mask, 0)

    rewards = torch.randn(b * t, generator=g, device=DEVICE)  # every element one reward, groups of 8

    @torch.no_grad()
    def group_advantage(num_generations=8):  # TRL GRPOTrainer, scale_rewards="group"
        mean_grouped = rewards.view(-1, num_generations).mean(dim=1).repeat_interleave(num_generations, dim=0)
        std_rewards = rewards.view(-1, num_generations).std(dim=1).repeat_interleave(num_generations, dim=0)
        is_std_zero = torch.isclose(std_rewards, torch.zeros_like(std_rewards))
        advantages = (rewards - mean_grouped) / (std_rewards + 1e-4)
        return advantages, is_std_zero

    return {"gae": median_ms_per_call(gae_trl, reps), "gae (vectorised)": median_ms_per_call(gae_vec, reps),
            "whiten": median_ms_per_call(whiten, reps), "group_advantage": median_ms_per_call(group_advantage, reps)}


def run_klshaping(b, t, reps, seed, kl_coef=0.05):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    old = -3 * torch.rand(b, t, generator=g, device=DEVICE)
    ref = old + 0.2 * torch.randn(b, t, generator=g, device=DEVICE)
    mask = prefix_mask(g, b, t)
    padding_mask = ~mask
    scores = torch.randn(b, generator=g, device=DEVICE)
    INVALID_LOGPROB = 1.0

    @torch.no_grad()
    def kl():  # TRL PPOTrainer (k1)
        logprobs = torch.masked_fill(old, padding_mask, INVALID_LOGPROB)
        ref_logprobs = torch.masked_fill(ref, padding_mask, INVALID_LOGPROB)
        sequence_lengths = mask.sum(1) - 1
        logr = ref_logprobs - logprobs
        kl = -logr
        non_score_reward = -kl_coef * kl
        rewards = non_score_reward.clone()
        actual_start = torch.arange(rewards.size(0), device=rewards.device)
        sequence_lengths_p1 = sequence_lengths + 1
        actual_end = torch.where(sequence_lengths_p1 < rewards.size(1), sequence_lengths_p1, sequence_lengths)
        rewards[[actual_start, actual_end]] += scores
        return rewards, kl

    return {"k1": median_ms_per_call(kl, reps)}


def pair_inputs(b, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    c = -150 + 40 * torch.randn(b, generator=g, device=DEVICE)
    r = -150 + 40 * torch.randn(b, generator=g, device=DEVICE)
    rc = c + 5 * torch.randn(b, generator=g, device=DEVICE)
    rr = r + 5 * torch.randn(b, generator=g, device=DEVICE)
    lc = torch.randint(16, 513, (b,), generator=g, device=DEVICE).float()
    lr = torch.randint(16, 513, (b,), generator=g, device=DEVICE).float()
    return c.requires_grad_(True), r.requires_grad_(True), rc, rr, lc, lr


def dpo_metrics(losses, chosen_rewards, rejected_rewards, cp, rp):
    loss = losses.mean()
    gc, gr = torch.autograd.grad(loss, (cp, rp))
    reward_accuracies = (chosen_rewards > rejected_rewards).float()
    return (loss.item(), chosen_rewards.mean().item(), rejected_rewards.mean().item(), reward_accuracies.mean().item(),
            (chosen_rewards - rejected_rewards).mean().item(), gc, gr)


def run_preference(b, reps, seed, beta=0.1, ls=0.0, simpo_beta=2.0, simpo_gamma=1.0):
    cp, rp, rc, rr, lc, lr = pair_inputs(b, seed)

    def sigmoid():  # TRL DPOTrainer.dpo_loss, loss_type="sigmoid"
        logratios = cp - rp
        ref_logratios = rc - rr
        logits = logratios - ref_logratios
        losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
        chosen_rewards = beta * (cp - rc).detach()
        rejected_rewards = beta * (rp - rr).detach()
        return dpo_metrics(losses, chosen_rewards, rejected_rewards, cp, rp)

    def ipo():  # TRL: log-probs averaged over the completion for "ipo", then (logits - 1/(2β))²
        ac, ar, arc, arr = cp / lc, rp / lr, rc / lc, rr / lr
        logits = (ac - ar) - (arc - arr)
        losses = (logits - 1 / (2 * beta)) ** 2
        chosen_rewards = beta * (ac - arc).detach()
        rejected_rewards = beta * (ar - arr).detach()
        return dpo_metrics(losses, chosen_rewards, rejected_rewards, cp, rp)

    def simpo():  # TRL CPOTrainer, loss_type="simpo" (average log-probs, no reference)
        ac, ar = cp / lc, rp / lr
        logits = ac - ar
        gamma_logratios = simpo_gamma / simpo_beta
        logits = logits - gamma_logratios
        losses = -F.logsigmoid(simpo_beta * logits) * (1 - ls) - F.logsigmoid(-simpo_beta * logits) * ls
        chosen_rewards = simpo_beta * ac.detach()
        rejected_rewards = simpo_beta * ar.detach()
        return dpo_metrics(losses, chosen_rewards, rejected_rewards, cp, rp)

    return {"sigmoid": median_ms_per_call(sigmoid, reps), "ipo": median_ms_per_call(ipo, reps),
            "simpo": median_ms_per_call(simpo, reps)}


def run_reward(b, reps, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    rc = torch.randn(b, generator=g, device=DEVICE).requires_grad_(True)
    rr = torch.randn(b, generator=g, device=DEVICE).requires_grad_(True)

    def bt():  # TRL RewardTrainer.compute_loss (no margin, center_rewards_coefficient None) + metrics
        loss = -F.logsigmoid(rc - rr).mean()
        gc, gr = torch.autograd.grad(loss, (rc, rr))
        with torch.no_grad():
            return (loss.item(), (rc > rr).float().mean().item(), rc.mean().item(), rr.mean().item(),
                    (rc - rr).mean().item(), gc, gr)

    return {"bt": median_ms_per_call(bt, reps)}


def run_rmsnorm(n, c, reps, seed, eps=1e-6):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    x = torch.randn(n, c, generator=g, device=DEVICE).requires_grad_(True)
    weight = (1 + 0.1 * torch.randn(c, generator=g, device=DEVICE)).requires_grad_(True)
    dout = torch.randn(n, c, generator=g, device=DEVICE)

    def llama_rms_norm(h):  # transformers' LlamaRMSNorm.forward (fp32 input)
        variance = h.pow(2).mean(-1, keepdim=True)
        return weight * (h * torch.rsqrt(variance + eps))

    @torch.no_grad()
    def fwd():
        return llama_rms_norm(x)

    out = llama_rms_norm(x)

    def bwd():
        return torch.autograd.grad(out, (x, weight), dout, retain_graph=True)

    return {"fwd": median_ms_per_call(fwd, reps), "bwd": median_ms_per_call(bwd, reps)}


def run_swiglu(n, f, reps, seed):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    h = 3 * torch.randn(n, 2 * f, generator=g, device=DEVICE)
    dout = torch.randn(n, f, generator=g, device=DEVICE)

    def swiglu(x):  # LlamaMLP's act_fn(gate_proj(x)) * up_proj(x), on the fused projection's two halves
        gate, up = x.chunk(2, dim=-1)
        return torch.nn.functional.silu(gate) * up

    @torch.no_grad()
    def fwd():
        return swiglu(h)

    hg = h.clone().requires_grad_(True)
    out = swiglu(hg)

    def bwd():
        return torch.autograd.grad(out, hg, dout, retain_graph=True)

    return {"fwd": median_ms_per_call(fwd, reps), "bwd": median_ms_per_call(bwd, reps)}


def run_attention(b, h, hkv, t, d, reps, seed):
    """Causal self-attention as transformers' eager path computes it (LlamaAttention / GPT2Attention: repeat_kv for
    grouped heads, q·kᵀ·scale, the causal mask, an fp32 softmax, ·v), and torch's own entry point with is_causal
    ("(sdpa)": scaled_dot_product_attention from torch 2.0; in 1.13 the private _scaled_dot_product_attention, whose
    CPU path materialises the scores too). fwd without autograd; bwd = autograd of a kept graph w.r.t. q, k, v from
    an upstream dout."""
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    q = torch.randn(b, h, t, d, generator=g, device=DEVICE)
    k = torch.randn(b, hkv, t, d, generator=g, device=DEVICE)
    v = torch.randn(b, hkv, t, d, generator=g, device=DEVICE)
    dout = torch.randn(b, h, t, d, generator=g, device=DEVICE)
    scale = 1.0 / math.sqrt(d)
    causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=DEVICE), 1)
    groups = h // hkv

    def repeat_kv(x):  # transformers' repeat_kv
        if groups == 1:
            return x
        return x[:, :, None, :, :].expand(b, hkv, groups, t, d).reshape(b, h, t, d)

    def eager(q_, k_, v_):
        w = torch.matmul(q_, repeat_kv(k_).transpose(2, 3)) * scale
        w = torch.softmax(w.masked_fill(causal, float("-inf")), dim=-1, dtype=torch.float32)
        return torch.matmul(w, repeat_kv(v_))

    def sdpa(q_, k_, v_):  # torch >= 2.0: scaled_dot_product_attention (fused kernels); 1.13: the private math path
        f = torch.nn.functional
        if hasattr(f, "scaled_dot_product_attention"):
            return f.scaled_dot_product_attention(q_, repeat_kv(k_), repeat_kv(v_), is_causal=True)
        return f._scaled_dot_product_attention(q_, repeat_kv(k_), repeat_kv(v_), None, 0.0, False, True)[0]

    out = {}
    for label, fn in (("", eager), (" (sdpa)", sdpa)):
        with torch.no_grad():
            out["fwd" + label] = median_ms_per_call(lambda: fn(q, k, v), reps)
        qg, kg, vg = (x.clone().requires_grad_(True) for x in (q, k, v))
        y = fn(qg, kg, vg)
        out["bwd" + label] = median_ms_per_call(
            lambda: torch.autograd.grad(y, (qg, kg, vg), dout, retain_graph=True), reps)
    return out


# family -> (how its shapes are given, runner)
SMALL = {
    "policyloss": ("bt", run_policyloss),
    "gae": ("bt", run_gae),
    "klshaping": ("bt", run_klshaping),
    "preference": ("pairs", run_preference),
    "reward": ("pairs", run_reward),
    "rmsnorm": ("nc", run_rmsnorm),
    "swiglu": ("nf", run_swiglu),
    "attention": ("attn", run_attention),
}
FAMILIES = ["logprobs"] + list(SMALL)
# PyTorch-only variants and the align4j kernel they are compared with
PEER_OF = {("gae", "gae (vectorised)"): "gae", ("attention", "fwd (sdpa)"): "fwd",
           ("attention", "bwd (sdpa)"): "bwd"}


def read_align4j(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["device"].split(":")[0] == DEVICE.split(":")[0]:
                rows[(r["family"], r["kernel"], r["shape"])] = r
    return rows


def fnum(x, fmt="%.3g"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if fmt == "%.3g" and x >= 100:
        return "%.1f" % x
    return fmt % x


def fval(r, key):
    if r is None or key not in r:
        return None
    x = float(r[key])
    return None if math.isnan(x) else x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:K]")
    ap.add_argument("--families", default=",".join(FAMILIES), help="comma-separated: " + ",".join(FAMILIES))
    ap.add_argument("--shapes", default="4096x32000,4096x128256,16384x32000,16384x128256", help="logprobs NxV,...")
    ap.add_argument("--bt-shapes", default="256x1024", help="policyloss, gae, klshaping: BxT,...")
    ap.add_argument("--pairs", default="64,1024", help="preference, reward: B,...")
    ap.add_argument("--nc-shapes", default="8192x2048,65536x128", help="rmsnorm: NxC,...")
    ap.add_argument("--swiglu-shapes", default="4096x1536", help="swiglu: NxF,...")
    ap.add_argument("--attn-shapes", default="1x12x12x1024x64,4x9x3x512x64", help="attention: BxHxHkvxTxD,...")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--clock", default="wall", choices=["wall", "thread-cpu"],
                    help="thread-cpu: time the calling thread's CPU time (needs --threads 1)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--align4j-csv", help="the Report main's --csv output, to join")
    ap.add_argument("--mem-factor", type=float, default=4.5,
                    help="skip a logprobs shape when mem-factor x N*V*4 bytes exceed MemAvailable (autograd keeps ~4 N×V arrays)")
    args = ap.parse_args()

    global DEVICE, CLOCK
    DEVICE = args.device
    if args.clock == "thread-cpu":
        if args.threads != 1 or not DEVICE.startswith("cpu"):
            ap.error("--clock thread-cpu needs --threads 1 on the cpu")
        CLOCK = time.thread_time
    torch.set_num_threads(args.threads)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    for f in families:
        if f not in FAMILIES:
            ap.error(f"--families: unknown family '{f}', known: {FAMILIES}")
    if DEVICE.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # an fp32 sanity figure, not TF32
        gflops = matmul_gflops()
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    else:
        gflops = matmul_gflops()
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS: {blas_in_use()}")
    print(f"torch 2048^2 fp32 matmul on {DEVICE}: {gflops:.0f} GFLOP/s")

    torch_ms = {}  # (family, kernel, shape) -> ms
    if "logprobs" in families:
        for s in args.shapes.split(","):
            n, v = (int(x) for x in s.lower().split("x"))
            shape = f"N={n} V={v}"
            need = args.mem_factor * n * v * 4
            avail = mem_available_bytes()
            if avail is not None and need > avail:
                print(f"[torch] {shape}: skipped, needs ~{need / 2**30:.1f} GiB, {avail / 2**30:.1f} GiB available", flush=True)
                continue
            print(f"[torch] logprobs {shape} ...", flush=True)
            for k, ms in run_shape(n, v, args.warmup, args.reps, args.seed).items():
                torch_ms[("logprobs", k, shape)] = {args.threads: ms}
                print(f"  {k:12s} {shape:20s} {ms:10.2f} ms", flush=True)
    for family in families:
        if family not in SMALL:
            continue
        kind, runner = SMALL[family]
        if kind == "bt":
            cases = []
            for s in args.bt_shapes.split(","):
                b, t = (int(x) for x in s.lower().split("x"))
                cases.append((f"B={b} T={t}", (b, t)))
        elif kind == "nc":
            cases = []
            for s in args.nc_shapes.split(","):
                n, c = (int(x) for x in s.lower().split("x"))
                cases.append((f"N={n} C={c}", (n, c)))
        elif kind == "nf":
            cases = []
            for s in args.swiglu_shapes.split(","):
                n, f = (int(x) for x in s.lower().split("x"))
                cases.append((f"N={n} F={f}", (n, f)))
        elif kind == "attn":
            cases = []
            for s in args.attn_shapes.split(","):
                b, h, hkv, t, d = (int(x) for x in s.lower().split("x"))
                cases.append((f"B={b} H={h} Hkv={hkv} T={t} D={d}", (b, h, hkv, t, d)))
        else:
            cases = [(f"B={int(b)}", (int(b),)) for b in args.pairs.split(",")]
        for shape, dims in cases:
            # Twice: on 1 thread (align4j runs these sizes on the calling thread) and on --threads; on a loaded
            # machine torch's OpenMP regions can stall for a scheduler tick on ops of a few KB.
            for threads in sorted({1, args.threads}):
                torch.set_num_threads(threads)
                print(f"[torch] {family} {shape}, {threads} thread(s) ...", flush=True)
                for k, ms in runner(*dims, args.reps, args.seed).items():
                    torch_ms.setdefault((family, k, shape), {})[threads] = ms
                    print(f"  {k:18s} {shape:16s} {ms:10.4f} ms", flush=True)
    torch.set_num_threads(args.threads)

    a4j = read_align4j(args.align4j_csv) if args.align4j_csv else {}
    def base_of(key):
        return (key[0], PEER_OF.get((key[0], key[1]), key[1]), key[2])

    if a4j:  # align4j's rows, each followed by the PyTorch-only variants compared with it
        keys = []
        for key in a4j:
            if key[0] in families:
                keys.append(key)
                keys += [k for k in torch_ms if k not in a4j and base_of(k) == key]
    else:
        keys = list(torch_ms)
    print()
    n = args.threads
    print(f"| kernel | shape | align4j ms | kernel-only ms | naive ms | PyTorch ms 1 thread | PyTorch ms {n} threads "
          "| floor ms | MB moved | align4j GB/s | align4j of floor | PyTorch of floor | PyTorch / align4j |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        family, k, shape = key
        r = a4j.get(key) or a4j.get((family, PEER_OF.get((family, k), k), shape))
        peer_only = key not in a4j and r is not None
        ms = fval(r, "ms")
        native = fval(r, "native_ms")
        naive = fval(r, "naive_ms")
        floor = fval(r, "floor_ms")
        nbytes = fval(r, "bytes")
        by_threads = torch_ms.get(key, {})
        t1, tn = by_threads.get(1), by_threads.get(n) if n != 1 else None
        t = min((x for x in (t1, tn) if x is not None), default=None)  # the better of the two
        of_floor = (lambda x: fnum(100 * floor / x, "%.3g%%") if floor and x else "-")
        ratio = fnum(t / ms, "%.2g×") if t and ms else "-"
        gbs = fnum(nbytes / (ms * 1e6)) if nbytes and ms else "-"
        if peer_only:  # align4j's figures belong to the row above; show them in parentheses
            print(f"| {family} {k} (PyTorch only) | {shape} | ({fnum(ms)}) | | | {fnum(t1)} | {fnum(tn)} | | | | | "
                  f"{of_floor(t)} | {ratio} |")
        else:
            print(f"| {family} {k} | {shape} | {fnum(ms)} | {fnum(native)} | {fnum(naive)} | {fnum(t1)} | {fnum(tn)} | {fnum(floor)} | "
                  f"{fnum(nbytes / 1e6 if nbytes else None)} | {gbs} | {of_floor(ms)} | {of_floor(t)} | {ratio} |")
    print("\nPyTorch of floor and PyTorch / align4j use the better of PyTorch's two thread settings.")


if __name__ == "__main__":
    main()
