// attention.cu — the attention ladder's versions (attention.h; one file each, cuda/kernels/attention/vN_*.cuh), their
// workspace and their dispatch. docs/KERNELS.md explains each step.
#include "cuda/kernels/attention/attention.h"
#include "cuda/kernels/attention/v1_unfused.cuh"
#include "cuda/kernels/attention/v2_flash.cuh"

namespace cxr::cuda {

const KernelLadder& attention_ladder() {
  static const KernelLadder ladder{"attention",
                                   {
                                       {1, "v1_unfused",
                                        "Q K^T, softmax, P V on the SGEMM ladder: S x S probabilities in "
                                        "memory"},
                                       {2, "v2_flash",
                                        "fused: K/V tiles streamed, online softmax, P recomputed from the "
                                        "logsumexp"},
                                   },
                                   /*best=*/2};
  return ladder;
}

namespace {

void check_args(const char* pass, int version, const AttentionArgs& a) {
  CXR_CHECK(a.batch >= 0 && a.heads >= 0 && a.seq >= 0 && a.head_dim >= 1, "attention ", pass,
            ": bad sizes batch=", a.batch, " heads=", a.heads, " seq=", a.seq, " head_dim=", a.head_dim,
            " (head_dim >= 1)");
  attention_ladder().version(version);  // throws for an unknown version
  if (a.batch == 0 || a.heads == 0 || a.seq == 0) return;
  const bool forward = pass[0] == 'f';
  bool ok = a.q.data && a.k.data && a.v.data && a.o.data && a.lse;
  if (!forward) ok = ok && a.d_o.data && a.d_q.data && a.d_k.data && a.d_v.data;
  CXR_CHECK(ok, "attention ", pass, ": a null operand (batch=", a.batch, " heads=", a.heads, " seq=", a.seq,
            " head_dim=", a.head_dim, ")");
  const bool uses_workspace = version == 1 || !forward;  // v2's forward needs none
  CXR_CHECK(!uses_workspace || a.workspace != nullptr, "attention ", pass, ": version ", version,
            " needs a workspace of ", attention_workspace_floats(version, a), " floats");
}

}  // namespace

size_t attention_workspace_floats(int version, const AttentionArgs& a) {
  const size_t rows = size_t(a.batch) * size_t(a.heads) * size_t(a.seq);
  switch (version) {
    case 1:
      return 2 * rows * size_t(a.seq);  // P, then dP / dS
    case 2:
      return rows;  // D_i = rowsum(dO * O)
    default:
      fail("attention: no kernel version ", version, " (", attention_ladder().versions.size(), " versions)");
  }
}

void attention_forward(int version, const AttentionArgs& a) {
  check_args("forward", version, a);
  if (a.batch == 0 || a.heads == 0 || a.seq == 0) return;
  if (version == 1) return attention_v1::forward(a);
  return attention_v2::forward(a);
}

void attention_backward(int version, const AttentionArgs& a) {
  check_args("backward", version, a);
  if (a.batch == 0 || a.heads == 0 || a.seq == 0) return;
  if (version == 1) return attention_v1::backward(a);
  return attention_v2::backward(a);
}

}  // namespace cxr::cuda
