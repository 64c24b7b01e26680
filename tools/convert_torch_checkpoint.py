#!/usr/bin/python3
"""convert_torch_checkpoint.py — a PyTorch checkpoint (.bin/.pt/.pth) to a safetensors file that
cxr reads (cxr::read_safetensors, nn::load_checkpoint). See docs/CHECKPOINTS.md.

The input is a state_dict (name -> tensor), or a dict holding one under 'state_dict' or 'model'
(training checkpoints). Tensors keep their dtype: F32, F64, I64, BOOL, and BF16/F16 as stored (cxr
reads those two as float32). Any other dtype, a non-tensor entry or a sparse/quantized tensor is an
error naming the entry. --prefix-strip removes a prefix (e.g. "module." of DataParallel) from the
keys that have it. The output is written atomically (temporary file, fsync, rename).

  /usr/bin/python3 tools/convert_torch_checkpoint.py model.pt model.safetensors --prefix-strip module.

Needs Debian's python3-torch. Exit code 0 on success, 1 with a message on any error.
"""
import argparse
import json
import os
import struct
import sys


def dtype_codes():
    """torch dtype -> safetensors dtype code, for the dtypes cxr reads."""
    import torch
    return {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL",
            torch.bfloat16: "BF16", torch.float16: "F16"}


class ConversionError(Exception):
    pass


def load_checkpoint(path, unsafe_pickle):
    import torch
    if not os.path.exists(path):
        raise ConversionError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ConversionError(f"{path}: is a directory")
    try:
        if unsafe_pickle:
            return torch.load(path, map_location="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        hint = ("" if unsafe_pickle else
                " (if the file is a trusted checkpoint that pickles other Python objects, retry with --unsafe-pickle)")
        raise ConversionError(f"{path}: cannot load as a PyTorch checkpoint: {type(e).__name__}: {e}{hint}") from None


def find_state_dict(obj, path):
    """The name -> tensor mapping inside a loaded checkpoint."""
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: expected a state_dict (a dict of tensors), got {type(obj).__name__}")
    for key in ("state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict()
        if isinstance(inner, dict):
            return inner
    return obj


def collect_tensors(state_dict, path, prefix):
    import torch
    if not state_dict:
        raise ConversionError(f"{path}: the state_dict is empty")
    out, stripped = {}, 0
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ConversionError(f"{path}: key {key!r} is not a string")
        if not isinstance(value, torch.Tensor):
            raise ConversionError(f"{path}: entry '{key}' is a {type(value).__name__}, not a tensor "
                                  f"(is this a training checkpoint? its keys: {', '.join(map(str, list(state_dict)[:8]))})")
        if value.layout != torch.strided or value.is_quantized:
            raise ConversionError(f"{path}: entry '{key}' is a {value.layout} / quantized tensor; only dense tensors convert")
        if value.dtype not in dtype_codes():
            supported = ", ".join(str(d).replace("torch.", "") for d in dtype_codes())
            raise ConversionError(f"{path}: entry '{key}' has dtype {str(value.dtype).replace('torch.', '')}, "
                                  f"which cxr does not read (supported: {supported})")
        name = key
        if prefix and key.startswith(prefix):
            name = key[len(prefix):]
            stripped += 1
        if not name:
            raise ConversionError(f"{path}: key '{key}' is empty after stripping the prefix '{prefix}'")
        if name in out:
            raise ConversionError(f"{path}: two entries map to '{name}' after stripping the prefix '{prefix}'")
        out[name] = value
    if prefix and stripped == 0:
        print(f"warning: no key of {path} starts with the prefix '{prefix}'; nothing stripped", file=sys.stderr)
    return out, stripped


def tensor_bytes(t):
    import torch
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy().tobytes()
    if t.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16: write the raw 16-bit patterns
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    """safetensors: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
    "__metadata__": {str: str}, padded with spaces to 8 bytes, then the raw little-endian data."""
    codes = dtype_codes()
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for key in sorted(tensors):
        raw = tensor_bytes(tensors[key])
        header[key] = {"dtype": codes[tensors[key].dtype], "shape": list(tensors[key].shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise ConversionError(f"{path}: cannot write: {e}") from None


def convert(src, dst, prefix="", unsafe_pickle=False):
    """Converts; returns (number of tensors, number of keys stripped)."""
    obj = load_checkpoint(src, unsafe_pickle)
    tensors, stripped = collect_tensors(find_state_dict(obj, src), src, prefix)
    import torch
    metadata = {"format": "pt", "source": os.path.basename(src), "converter": "tools/convert_torch_checkpoint.py",
                "torch": torch.__version__}
    write_safetensors(dst, tensors, metadata)
    return len(tensors), stripped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="PyTorch checkpoint: .bin/.pt/.pth state_dict, or a dict with 'state_dict'/'model'")
    parser.add_argument("output", help="safetensors file to write")
    parser.add_argument("--prefix-strip", default="", metavar="PREFIX",
                        help="remove PREFIX (e.g. 'module.') from the keys that start with it")
    parser.add_argument("--unsafe-pickle", action="store_true",
                        help="unpickle arbitrary Python objects (only for trusted files; default: weights_only)")
    args = parser.parse_args(argv)
    if sys.byteorder != "little":
        print("error: safetensors data is little-endian; this converter assumes a little-endian machine", file=sys.stderr)
        return 1
    try:
        import torch  # noqa: F401
    except ImportError:
        print("error: PyTorch is needed (Debian: apt-get install python3-torch)", file=sys.stderr)
        return 1
    try:
        n, stripped = convert(args.input, args.output, args.prefix_strip, args.unsafe_pickle)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    note = f" ({stripped} keys stripped of '{args.prefix_strip}')" if args.prefix_strip else ""
    print(f"{args.input}: {n} tensors -> {args.output}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
