#!/usr/bin/python3
"""Check a LoRA adapter folder in Hugging Face PEFT's format the way PEFT itself loads it, with torch and no other
package: the direction align4j -> PEFT (tools/lora_golden.py checks PEFT -> align4j).

  /usr/bin/python3 tools/check_peft_adapter.py BASE_DIR ADAPTER_DIR EXPECTED.safetensors [--atol 1e-4]

  BASE_DIR     a Hugging Face model folder (config.json; model.safetensors or an index with its shards), model_type
               gpt2 (checkpoint keys with or without "transformer.", Conv1D weights [in, out]) or llama, mistral,
               qwen2, qwen3 (tools/llama_golden.py's architectures)
  ADAPTER_DIR  adapter_config.json + adapter_model.safetensors, e.g. as align4j's CausalLm.save writes them
  EXPECTED     a safetensors file with tokens I32/I64 [B, T] and logits F32 [B, T, V]: the adapter model's output

peft is not installable here, so PEFT's loading rules are re-typed from its source (PeftModel.from_pretrained,
LoraConfig, BaseTuner.inject_adapter / _check_target_module_exists, set_peft_model_state_dict, lora.Linear):
- adapter_config.json: peft_type must be LORA; r, lora_alpha and use_rslora give the scaling alpha / r, or
  alpha / sqrt(r) with rsLoRA; target_modules is a list matched against every module path (exact, or a suffix after
  a dot), a string is a regular expression matched in full ("all-linear": every linear module but the LM head);
  fan_in_fan_out is what PEFT would use after its own correction (it forces true for GPT-2's Conv1D and false for
  nn.Linear, with a warning; the flag matters only when merging). lora_dropout is ignored (identity at inference).
  What this check cannot model (DoRA, bias training, modules_to_save, rank/alpha patterns, layer selection) is a
  format error rather than a silently different model.
- adapter_model.safetensors: each key is base_model.model.<module path>.lora_A.weight [r, in] or .lora_B.weight
  [out, r], the module path as transformers names it in the *ForCausalLM model (transformer.h.0.attn.c_attn for
  GPT2LMHeadModel, model.layers.0.mlp.gate_proj for LlamaForCausalLM), whatever the base checkpoint's own prefix.
  Stricter than PEFT, which only warns about missing and unexpected keys (and then runs a wrong model): every
  targeted module must have both tensors, and every tensor must belong to a targeted module.
- the forward: each targeted linear y = base(x) becomes y + scaling * (x A^T) B^T (tools/lora_golden.py's
  LoraLinear, the model code of tools/gpt2_golden.py and tools/llama_golden.py, read with
  tools/hf_gpt2_safetensors.py). The merged model (merge_and_unload: W += scaling * B A, transposed when
  fan_in_fan_out) must give the same logits as well.
Prints what it read and the max abs error of the logits (adapter model, and merged) against EXPECTED's. Exits 0
when both are within --atol, 1 when not, 2 on a format error (one line naming the key or field).
Used by PeftInteropTest on folders that align4j wrote; tests that do not call it need no Python.
"""
import argparse, json, math, os, re, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gpt2_safetensors import load_file  # noqa: E402  (the repository's dependency-free safetensors reader)
import gpt2_golden  # noqa: E402
import lora_golden  # noqa: E402  (LoraLinear, the model builders and the HF module names of each family)

PREFIX = "base_model.model."  # PeftModel.base_model (LoraModel) .model (the *ForCausalLM): PEFT's key prefix
LLAMA_TYPES = ("llama", "mistral", "qwen2", "qwen3")


class FormatError(Exception):
    """A folder PEFT would refuse, or one whose meaning this check cannot reproduce: exit 2."""


def read_json(path):
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise FormatError(f"{path}: {e}")
    if not isinstance(obj, dict):
        raise FormatError(f"{path}: not a JSON object")
    return obj


def read_safetensors(path):
    try:
        tensors, _ = load_file(path)
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # KeyError: a dtype the reader does not know
        raise FormatError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})")
    return tensors


def base_weights(folder):
    """The base folder's tensors as float32 (a BF16 checkpoint runs in float32 here, as PEFT's LoRA weights load
    into the base's dtype), from model.safetensors or the shards of model.safetensors.index.json."""
    single, index = os.path.join(folder, "model.safetensors"), os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(single):
        tensors = read_safetensors(single)
    elif os.path.exists(index):
        tensors = {}
        for shard in sorted(set(read_json(index).get("weight_map", {}).values())):
            tensors.update(read_safetensors(os.path.join(folder, shard)))
    else:
        raise FormatError(f"{folder}: neither model.safetensors nor model.safetensors.index.json")
    return {k: v.float() for k, v in tensors.items()}


def load_base(folder):
    """(model, {HF module path: (owner module, attribute, is Conv1D)} for every adaptable linear, rebuild(weights)
    that makes a fresh model with other weights (for the merged check), the HF-named weights)."""
    cfg = read_json(os.path.join(folder, "config.json"))
    mt = cfg.get("model_type", "gpt2")  # transformers' GPT-2 config defaults a missing model_type too
    weights = base_weights(folder)
    if mt == "gpt2":
        # gpt2_golden's model reads its sizes from module globals (it builds one fixed tiny model): set them from
        # config.json so that any GPT-2 folder builds, rather than copying the model code here.
        try:
            gpt2_golden.L, gpt2_golden.NH, gpt2_golden.C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
            gpt2_golden.NCTX = cfg.get("n_positions", cfg.get("n_ctx"))
            gpt2_golden.V = cfg["vocab_size"]
        except KeyError as e:
            raise FormatError(f"{folder}/config.json: no {e.args[0]}")
        if cfg.get("activation_function", "gelu_new") != "gelu_new":
            raise FormatError(f"{folder}/config.json: activation_function {cfg['activation_function']} is not gelu_new")
        # GPT2LMHeadModel's state dict carries "transformer." and the causal-mask buffers; align4j's and the golden
        # checkpoints carry neither (GPT2Model's names). Both load in transformers, so both are accepted here.
        w = {}
        for k, v in weights.items():
            k = k[len("transformer."):] if k.startswith("transformer.") else k
            if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias") or k == "lm_head.weight":
                continue  # buffers, and the head tied to wte (GPT-2 always ties it)
            w[k] = v
        eps = cfg.get("layer_norm_epsilon", 1e-5)

        def build(ws):
            try:
                m = lora_golden.gpt2_model(ws)
            except (KeyError, RuntimeError) as e:
                raise FormatError(f"{folder}: GPT-2 weights do not fit config.json: {e}")
            for mod in m.modules():
                if isinstance(mod, torch.nn.LayerNorm):
                    mod.eps = eps
            return m

        model = build(w)
        linears = {f"transformer.h.{i}.{hf}": (blk, attr, True)
                   for i, blk in enumerate(model.h) for attr, hf in lora_golden.GPT2_TARGETS}
        return model, linears, build, w, cfg
    if mt in LLAMA_TYPES:
        if cfg.get("rope_scaling"):
            raise FormatError(f"{folder}/config.json: rope_scaling {cfg['rope_scaling']} is not modelled by this check")
        c = dict(cfg)
        c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
        c.setdefault("tie_word_embeddings", False)

        def build(ws):
            try:
                return lora_golden.llama_model(c, ws)
            except (KeyError, RuntimeError) as e:
                raise FormatError(f"{folder}: {mt} weights do not fit config.json: {e}")

        model = build(weights)
        linears = {f"model.layers.{i}.{hf}": (layer, attr, False)
                   for i, layer in enumerate(model.layers) for attr, hf in lora_golden.LLAMA_TARGETS}
        return model, linears, build, weights, cfg
    raise FormatError(f"{folder}/config.json: model_type {mt!r} is not supported (gpt2, {', '.join(LLAMA_TYPES)})")


def lora_settings(adapter_dir):
    """(r, scaling, target_modules, fan_in_fan_out, config) as PEFT's LoraConfig.from_pretrained reads them."""
    path = os.path.join(adapter_dir, "adapter_config.json")
    cfg = read_json(path)
    if cfg.get("peft_type") != "LORA":
        raise FormatError(f"{path}: peft_type is {cfg.get('peft_type')!r}, not 'LORA'")
    r, alpha = cfg.get("r", 8), cfg.get("lora_alpha", 8)  # LoraConfig's defaults, for fields a writer left out
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise FormatError(f"{path}: r {r!r} is not a positive integer")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha > 0:
        raise FormatError(f"{path}: lora_alpha {alpha!r} is not a positive number")
    rslora = cfg.get("use_rslora", False)
    if not isinstance(rslora, bool):
        raise FormatError(f"{path}: use_rslora {rslora!r} is not a boolean")
    # Features that change the model in ways this check does not reproduce: refuse them instead of comparing a
    # different model. A field at its default (absent, null, false, empty) is fine.
    for field, default in (("use_dora", False), ("bias", "none"), ("lora_bias", False)):
        if cfg.get(field, default) not in (default, None):
            raise FormatError(f"{path}: {field} {cfg[field]!r} is not modelled by this check")
    for field in ("modules_to_save", "rank_pattern", "alpha_pattern", "layers_to_transform", "layers_pattern",
                  "exclude_modules", "layer_replication", "trainable_token_indices"):
        if cfg.get(field):
            raise FormatError(f"{path}: {field} {cfg[field]!r} is not modelled by this check")
    targets = cfg.get("target_modules")
    if isinstance(targets, str):
        pass  # a regular expression, or "all-linear"
    elif isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
        targets = set(targets)  # PEFT turns the list into a set
    else:
        raise FormatError(f"{path}: target_modules {targets!r} is neither a list of names nor a string")
    fan = cfg.get("fan_in_fan_out", False)
    if not isinstance(fan, bool):
        raise FormatError(f"{path}: fan_in_fan_out {fan!r} is not a boolean")
    scaling = alpha / math.sqrt(r) if rslora else alpha / r  # lora.LoraLayer.update_layer
    return r, scaling, targets, fan, cfg


def targeted(targets, module):
    """PEFT's _check_target_module_exists for a module path (the layer options were refused above)."""
    if isinstance(targets, str):
        # "all-linear" is expanded by PEFT to every nn.Linear / Conv1D except the output layer: the trunk's linears,
        # which are exactly the modules asked about here.
        return targets == "all-linear" or re.fullmatch(targets, module) is not None
    return module in targets or any(module.endswith("." + t) for t in targets)


def parse_key(key):
    """(module path, 'lora_A' or 'lora_B') of an adapter_model.safetensors key, or a FormatError naming it."""
    if not key.startswith(PREFIX):
        raise FormatError(f"adapter_model.safetensors: key {key!r} lacks PEFT's prefix {PREFIX!r}")
    rest = key[len(PREFIX):]
    for ab in ("lora_A", "lora_B"):
        if rest.endswith(f".{ab}.weight"):
            return rest[:-len(f".{ab}.weight")], ab
    raise FormatError(f"adapter_model.safetensors: key {key!r} is not <module>.lora_A.weight or <module>.lora_B.weight")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("adapter")
    ap.add_argument("expected")
    ap.add_argument("--atol", type=float, default=1e-4)
    a = ap.parse_args()
    try:
        err = check(a.base, a.adapter, a.expected)
    except FormatError as e:
        print(f"FORMAT ERROR: {e}", file=sys.stderr)
        return 2
    ok = err <= a.atol
    print(f"{'OK' if ok else 'FAIL'}: max abs error {err:.3e} {'<=' if ok else '>'} atol {a.atol:g}")
    return 0 if ok else 1


def check(base_dir, adapter_dir, expected_path):
    torch.manual_seed(0)  # LoraLinear draws its initial A, B; they are all overwritten, pinned for reproducibility
    model, linears, build, weights, base_cfg = load_base(base_dir)
    r, scaling, targets, fan, cfg = lora_settings(adapter_dir)
    print(f"base {base_dir}: model_type {base_cfg.get('model_type', 'gpt2')}, {len(linears)} linear modules")
    print(f"adapter {adapter_dir}: r {r}, lora_alpha {cfg.get('lora_alpha', 8)}, use_rslora {cfg.get('use_rslora', False)}"
          f" -> scaling {scaling:g}; target_modules {sorted(targets) if isinstance(targets, set) else targets!r};"
          f" base_model_name_or_path {cfg.get('base_model_name_or_path')!r} (PeftModel.from_pretrained uses the base it"
          f" is given)")

    # PEFT wraps every module that target_modules selects; a target that selects nothing is an error in PEFT too
    # ("Target modules ... not found in the base model").
    chosen = [m for m in linears if targeted(targets, m)]
    if not chosen:
        raise FormatError(f"adapter_config.json: target_modules {targets!r} match no module of the base "
                          f"(its modules: {sorted(set(m.rsplit('.', 1)[1] for m in linears))})")

    wpath = os.path.join(adapter_dir, "adapter_model.safetensors")
    found = {}
    for key, t in read_safetensors(wpath).items():
        module, ab = parse_key(key)
        if module not in linears:
            raise FormatError(f"adapter_model.safetensors: key {key!r} names no linear module {module!r} of the base "
                              f"(expected paths like {next(iter(linears))!r})")
        if module not in chosen:
            raise FormatError(f"adapter_model.safetensors: key {key!r} is for a module that target_modules "
                              f"{targets!r} does not select (PEFT would ignore it)")
        found.setdefault(module, {})[ab] = (key, t)

    wrapped = []
    for module in chosen:
        owner, attr, conv = linears[module]
        base = getattr(owner, attr)
        pair = found.get(module, {})
        for ab in ("lora_A", "lora_B"):
            if ab not in pair:
                raise FormatError(f"adapter_model.safetensors: no {PREFIX}{module}.{ab}.weight, but target_modules "
                                  f"selects {module} (PEFT would leave it at its initial value)")
        (ka, A), (kb, B) = pair["lora_A"], pair["lora_B"]
        # lora_A = nn.Linear(in, r), lora_B = nn.Linear(r, out): the same shapes for Conv1D, whose in/out PEFT reads
        # from its [in, out] weight (fan_in_fan_out transposes only the base weight, when merging)
        if list(A.shape) != [r, base.in_features]:
            raise FormatError(f"adapter_model.safetensors: {ka} has shape {list(A.shape)}, expected [r={r}, in={base.in_features}]")
        if list(B.shape) != [base.out_features, r]:
            raise FormatError(f"adapter_model.safetensors: {kb} has shape {list(B.shape)}, expected [out={base.out_features}, r={r}]")
        if not (torch.isfinite(A).all() and torch.isfinite(B).all()):
            raise FormatError(f"adapter_model.safetensors: {ka} or {kb} holds a non-finite value")
        # PEFT's correction of fan_in_fan_out (lora.layer.Linear / dispatch_default): warns, then uses the right one
        if fan != conv:
            print(f"warning: fan_in_fan_out is {fan} but {module} is {'Conv1D' if conv else 'nn.Linear'}; "
                  f"PEFT sets it to {conv}", file=sys.stderr)
        lora = lora_golden.LoraLinear(base, r, scaling, torch.Generator().manual_seed(0))
        with torch.no_grad():
            lora.lora_A.copy_(A.float())
            lora.lora_B.copy_(B.float())
        setattr(owner, attr, lora)
        wrapped.append((module, conv, lora))
    print(f"wrapped {len(wrapped)} modules ({len(found) * 2} tensors), e.g. {wrapped[0][0]}")

    exp = read_safetensors(expected_path)
    if "tokens" not in exp or "logits" not in exp:
        raise FormatError(f"{expected_path}: needs tokens [B, T] and logits [B, T, V], has {sorted(exp)}")
    tokens, want = exp["tokens"].long(), exp["logits"].float()
    if tokens.dim() != 2 or want.dim() != 3 or list(want.shape[:2]) != list(tokens.shape):
        raise FormatError(f"{expected_path}: tokens {list(tokens.shape)} and logits {list(want.shape)} are not [B, T], [B, T, V]")
    n_ctx = base_cfg.get("n_positions", base_cfg.get("n_ctx", base_cfg.get("max_position_embeddings")))
    vocab = base_cfg["vocab_size"]
    if want.shape[2] != vocab or tokens.min() < 0 or tokens.max() >= vocab or (n_ctx and tokens.shape[1] > n_ctx):
        raise FormatError(f"{expected_path}: tokens {list(tokens.shape)} (values {tokens.min()}..{tokens.max()}) or "
                          f"logits {list(want.shape)} do not fit vocab_size {vocab}, context {n_ctx}")

    # the models' forwards also compute a loss; any targets and a full mask serve
    dummy, mask = torch.zeros_like(tokens), torch.ones(tokens.shape)
    with torch.no_grad():
        logits, _ = model(tokens, dummy, mask)
        err = (logits - want).abs().max().item()
        print(f"adapter model: max abs error {err:.3e} over logits {list(want.shape)}"
              f" (the adapters move them by up to {(logits - unwrapped_logits(wrapped, model, tokens, dummy, mask)).abs().max().item():.3e})")

        # merge_and_unload: W += scaling * B A, transposed for fan_in_fan_out (PEFT's transpose(B @ A, fan_in_fan_out),
        # with the corrected flag, i.e. Conv1D's [in, out] layout): what a user ships after training
        merged = dict(weights)
        for module, conv, lora in wrapped:
            delta = scaling * (lora.lora_B @ lora.lora_A)
            w = module[len("transformer."):] + ".weight" if module.startswith("transformer.") else module + ".weight"
            merged[w] = weights[w] + (delta.t() if conv else delta)
        mlogits, _ = build(merged)(tokens, dummy, mask)
        merr = (mlogits - want).abs().max().item()
        print(f"merged model:  max abs error {merr:.3e}")
    return max(err, merr)


def unwrapped_logits(wrapped, model, tokens, dummy, mask):
    """The base's logits (adapters disabled, PEFT's disable_adapter()): shows the comparison is not vacuous."""
    for _, _, lora in wrapped:
        lora.enabled = False
    try:
        return model(tokens, dummy, mask)[0]
    finally:
        for _, _, lora in wrapped:
            lora.enabled = True


if __name__ == "__main__":
    sys.exit(main())
