#!/usr/bin/python3
"""Stream the LLaMA-2-7B decoder of a CXR-LLaVA checkpoint into a BF16 GGUF, for the paired speed
comparison with llama.cpp in docs/performance.md (same weights, llama.cpp's layout). Not used by the
program; needs numpy and sentencepiece (Debian: python3-numpy python3-sentencepiece) and the gguf-py
folder of a llama.cpp source tree (GGUF_PY=.../llama.cpp/gguf-py).

- Reads the safetensors shards directly (8-byte LE header length, JSON header, raw bytes).
- BF16 weights are passed through bit-exact (viewed as uint16, GGML type BF16).
- q_proj/k_proj rows are permuted exactly like convert_hf_to_gguf.py LlamaModel.permute
  (reshape(n_head, 2, rows//n_head//2, cols).swapaxes(1, 2).reshape(rows, cols)).
- 1-D norm weights are widened to F32 exactly (bf16 bits << 16).
- Tensor infos are registered first, header/KV/tensor-info written, then data written
  tensor by tensor (peak memory ~ one tensor, <= 262 MB for embeddings/lm_head).
- vision_tower.* and mm_projector.* are ignored.

Usage: GGUF_PY=SRC/gguf-py /usr/bin/python3 scripts/cxr_checkpoint_to_gguf.py CHECKPOINT_DIR OUT.gguf
Then: llama-quantize OUT.gguf OUT-q8_0.gguf Q8_0 (and Q4_0).
"""
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.environ.get("GGUF_PY", os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "gguf-py")))
import gguf  # noqa: E402
from sentencepiece import SentencePieceProcessor  # noqa: E402


def read_headers(model_dir):
    idx = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
    shards = sorted(set(idx["weight_map"].values()))
    info = {}
    for shard in shards:
        path = os.path.join(model_dir, shard)
        with open(path, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            hdr = json.loads(fh.read(n))
        base = 8 + n
        for k, v in hdr.items():
            if k == "__metadata__":
                continue
            info[k] = (path, base + v["data_offsets"][0], v["data_offsets"][1] - v["data_offsets"][0], v["dtype"], v["shape"])
    return info


def load_u16(entry):
    path, off, nbytes, dtype, shape = entry
    assert dtype == "BF16", (path, dtype)
    with open(path, "rb") as fh:
        fh.seek(off)
        buf = fh.read(nbytes)
        try:
            os.posix_fadvise(fh.fileno(), off, nbytes, os.POSIX_FADV_DONTNEED)
        except Exception:
            pass
    assert len(buf) == nbytes
    a = np.frombuffer(buf, dtype="<u2").reshape(shape)
    return a


def permute(w, n_head, n_head_kv=None):
    # identical to conversion/llama.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2)
            .reshape(w.shape))


def main():
    model_dir, out_path = sys.argv[1], sys.argv[2]
    t0 = time.time()
    cfg = json.load(open(os.path.join(model_dir, "config.json")))["llama"]
    n_embd = cfg["hidden_size"]
    n_ff = cfg["intermediate_size"]
    n_layer = cfg["num_hidden_layers"]
    n_head = cfg["num_attention_heads"]
    n_head_kv = cfg.get("num_key_value_heads", n_head)
    n_vocab = cfg["vocab_size"]

    info = read_headers(model_dir)

    # (gguf name, source name, kind) kind: 'w' bf16 passthrough, 'q'/'k' permuted bf16, 'n' -> f32
    plan = [("token_embd.weight", "llama.embed_tokens.weight", "w")]
    for i in range(n_layer):
        p = f"llama.layers.{i}."
        plan += [
            (f"blk.{i}.attn_norm.weight", p + "input_layernorm.weight", "n"),
            (f"blk.{i}.attn_q.weight", p + "self_attn.q_proj.weight", "q"),
            (f"blk.{i}.attn_k.weight", p + "self_attn.k_proj.weight", "k"),
            (f"blk.{i}.attn_v.weight", p + "self_attn.v_proj.weight", "w"),
            (f"blk.{i}.attn_output.weight", p + "self_attn.o_proj.weight", "w"),
            (f"blk.{i}.ffn_norm.weight", p + "post_attention_layernorm.weight", "n"),
            (f"blk.{i}.ffn_gate.weight", p + "mlp.gate_proj.weight", "w"),
            (f"blk.{i}.ffn_up.weight", p + "mlp.up_proj.weight", "w"),
            (f"blk.{i}.ffn_down.weight", p + "mlp.down_proj.weight", "w"),
        ]
    plan += [("output_norm.weight", "llama.norm.weight", "n"),
             ("output.weight", "lm_head.weight", "w")]

    used = {src for _, src, _ in plan}
    llama_src = {k for k in info if k.startswith("llama.") or k.startswith("lm_head.")}
    assert used == llama_src, (sorted(llama_src - used)[:5], sorted(used - llama_src)[:5])
    ignored = sorted(k for k in info if k not in used)
    assert all(k.startswith(("vision_tower.", "mm_projector.")) for k in ignored), ignored[:5]
    print(f"{len(plan)} tensors to write, {len(ignored)} vision/projector tensors ignored")

    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name("CXR-LLaVA LLaMA-2-7B decoder (" + os.path.basename(os.path.normpath(model_dir)) + ")")
    w.add_vocab_size(n_vocab)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)

    # tokenizer (sentencepiece, as convert_hf_to_gguf.py _create_vocab_sentencepiece)
    sp = SentencePieceProcessor()
    sp.LoadFromFile(os.path.join(model_dir, "tokenizer.model"))
    assert sp.vocab_size() == n_vocab, sp.vocab_size()
    tokens, scores, toktypes = [], [], []
    for tid in range(sp.vocab_size()):
        tokens.append(sp.IdToPiece(tid).encode("utf-8"))
        scores.append(sp.GetScore(tid))
        tt = gguf.TokenType.NORMAL
        if sp.IsUnknown(tid):
            tt = gguf.TokenType.UNKNOWN
        elif sp.IsControl(tid):
            tt = gguf.TokenType.CONTROL
        elif sp.IsUnused(tid):
            tt = gguf.TokenType.UNUSED
        elif sp.IsByte(tid):
            tt = gguf.TokenType.BYTE
        toktypes.append(tt)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(toktypes)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    # register tensor infos
    for name, src, kind in plan:
        path, off, nbytes, dtype, shape = info[src]
        assert dtype == "BF16"
        if kind == "n":
            assert len(shape) == 1
            w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes * 2)
        else:
            w.add_tensor_info(name, shape, np.dtype(np.uint16), nbytes, raw_dtype=gguf.GGMLQuantizationType.BF16)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    done = 0
    for j, (name, src, kind) in enumerate(plan):
        a = load_u16(info[src])
        if kind == "n":
            out = (a.astype(np.uint32) << 16).view(np.float32)
        elif kind == "q":
            out = np.ascontiguousarray(permute(a, n_head, n_head))
        elif kind == "k":
            out = np.ascontiguousarray(permute(a, n_head, n_head_kv))
        else:
            out = a
        w.write_tensor_data(out)
        done += out.nbytes
        del a, out
        if j % 27 == 0 or j == len(plan) - 1:
            print(f"[{time.time() - t0:7.1f}s] {j + 1}/{len(plan)} {name} {done / 1e9:.2f} GB", flush=True)
    w.flush()
    w.close()
    print(f"done in {time.time() - t0:.1f}s: {out_path} {os.path.getsize(out_path)} bytes")


if __name__ == "__main__":
    main()
