// local.cpp — see local.h. Local vectors are read as a (L, B, D) view of the (B, D, H, W)
// features (location-major), so all locations go through the critic's batched fast path at once.
#include "mi/local.h"

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::mi {

LocalSelect parse_local_select(const std::string& name) {
  if (name == "max") return LocalSelect::Max;
  if (name == "sample-max") return LocalSelect::SampleMax;
  if (name == "mean") return LocalSelect::Mean;
  fail("mi: unknown local selection rule '", name, "' (valid: max, sample-max, mean)");
}

std::string local_select_name(LocalSelect s) {
  switch (s) {
    case LocalSelect::Max: return "max";
    case LocalSelect::SampleMax: return "sample-max";
    case LocalSelect::Mean: return "mean";
  }
  fail("mi: invalid LocalSelect value ", static_cast<int>(s));
}

LocalMiResult local_mi_loss(ConcatCritic& critic, const Tensor& f, const Tensor& s, const Tensor& mask, Bound bound,
                            LocalSelect select) {
  CXR_CHECK(f.defined() && f.dim() == 4, "local_mi_loss: local features must be (B, D, H, W), got ",
            f.defined() ? shape_str(f.shape()) : std::string("undefined"));
  CXR_CHECK(s.defined() && s.dim() == 2 && s.size(0) == f.size(0),
            "local_mi_loss: the sentence embedding must be (B, Ds) with B = ", f.size(0), " as the local features ",
            shape_str(f.shape()), ", got ", s.defined() ? shape_str(s.shape()) : std::string("undefined"));
  CXR_CHECK(f.size(1) == critic.dx() && s.size(1) == critic.dy(), "local_mi_loss: the critic takes [", critic.dx(),
            "-d local feature ; ", critic.dy(), "-d sentence], got D = ", f.size(1), " and Ds = ", s.size(1));
  const int64_t B = f.size(0), D = f.size(1), L = f.size(2) * f.size(3);
  CXR_CHECK(L > 0 && B > 0, "local_mi_loss: empty local features ", shape_str(f.shape()));
  CXR_CHECK(mask.defined() && mask.dim() == 2 && mask.size(0) == B && mask.size(1) == B,
            "local_mi_loss: the negative mask must be (", B, ", ", B, "), got ",
            mask.defined() ? shape_str(mask.shape()) : std::string("undefined"));
  Tensor by_location = f.flatten(2).permute({2, 0, 1});  // (L, B, D): [m][i] = f_m(x_i)

  LocalMiResult result;
  switch (select) {
    case LocalSelect::Max: {
      int64_t best = 0;
      {
        NoGradGuard no_grad;
        Tensor estimates = mi_estimate_batched(bound, critic.scores_batched(by_location, s), mask);  // (L)
        best = argmax(estimates, 0).item<int64_t>();
      }
      Tensor scores = critic.scores(by_location.select(0, best), s);  // with gradient, one location
      result.loss = mi_loss(bound, scores, mask);
      result.estimate = mi_estimate(bound, scores, mask);
      result.locations.assign(B, best);
      return result;
    }
    case LocalSelect::SampleMax: {
      std::vector<double> rows(B);
      result.locations.resize(B);
      {
        NoGradGuard no_grad;
        const int64_t Ds = s.size(1);
        // T(f_m(x_i), s_i) for every (m, i): L B matched pairs.
        Tensor positive =
            critic.score_pairs(by_location.reshape({L * B, D}), s.unsqueeze(0).expand({L, B, Ds}).reshape({L * B, Ds}));
        std::vector<double> chosen = argmax(positive.view({L, B}), 0).to_vector();  // (B)
        for (int64_t i = 0; i < B; ++i) {
          result.locations[i] = static_cast<int64_t>(chosen[i]);
          rows[i] = static_cast<double>(i * L + result.locations[i]);
        }
      }
      // Row i * L + m of the (B L, D) sample-major table is f_m(x_i); gather x'_i with gradient.
      Tensor table = f.flatten(2).transpose(1, 2).reshape({B * L, D});
      Tensor selected = index_select(table, 0, from_vector(rows, {B}, {.dtype = DType::Int64, .device = table.device()}));
      Tensor scores = critic.scores(selected, s);
      result.loss = mi_loss(bound, scores, mask);
      result.estimate = mi_estimate(bound, scores, mask);
      return result;
    }
    case LocalSelect::Mean: {
      Tensor scores = critic.scores_batched(by_location, s);  // (L, B, B)
      result.loss = mean(mi_loss_batched(bound, scores, mask));
      result.estimate = mean(mi_estimate_batched(bound, scores, mask)).item();
      return result;
    }
  }
  fail("local_mi_loss: invalid LocalSelect value ", static_cast<int>(select));
}

}  // namespace cxr::mi
