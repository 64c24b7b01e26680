// vae.h — the semi-supervised VAE of METHODS.md §5 (arXiv 1902.10785), in the M1/M2-style form
// the abstracts imply; the objective, the architecture and every choice made are in docs/VAE.md.
//   x (N, 1, S, S) in [0, 1] -> encoder (a BasicBlock ResNet, METHODS.md §3, its fc1 giving
//   2 * latent_dim) -> mu, logvar (N, d) -> z = mu + exp(logvar / 2) * eps (N, d), eps ~ N(0, I)
//   -> decoder: reconstruction logits (N, 1, S, S), p(x|z) Bernoulli(sigmoid) or Gaussian(sigmoid, std)
//   -> label_head: label logits (N, C) (4-way softmax p(y|z), paper v1) or (N, 1) (Gaussian
//      regressor N(y; f(z), 1), paper v3).
// Labels (N) int64: 0..C-1, or -1 for an unlabelled image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/models/resnet.h"
#include "tensor/random.h"

namespace cxr::nn {

struct VaeConfig {
  std::string arch = "resnet256_6_2_1";  // the encoder trunk (make_resnet); "resnet128_6_2_1" for tests/demo
  int64_t latent_dim = 64;
  std::string head = "classifier";  // p(y|z): "classifier" (C-way softmax) or "regressor" (N(y; f(z), 1))
  int64_t num_classes = 4;
  std::string likelihood = "bernoulli";  // p(x|z): "bernoulli" (BCE with logits) or "gaussian" (fixed std)
  double gaussian_std = 0.1;             // sigma_x of the Gaussian likelihood, on the [0, 1] image scale
  double beta = 1.0;                     // KL weight (1: the ELBO)
  // Weight alpha of -log p(y|z) in the labelled ELBO. A 256x256 image's reconstruction term is
  // ~10^4 nats against log 4 = 1.4 nats of label NLL at chance, so alpha = 1 would leave the labels
  // almost no say in the latent; alpha = 100 (M2's alpha, Kingma et al. 2014, plays the same role)
  // makes a labelled image's label term comparable to its KL term. See docs/VAE.md.
  double label_weight = 100.0;

  void validate() const;  // throws naming the bad field
};

// Mirror of the encoder: Linear(d -> C_L * s * s) + ReLU, reshaped to the last layer's map
// (C_L, s, s); one ConvTranspose2d(k4, s2, p1) + BatchNorm2d + ReLU stage per encoder layer
// ("up1" undoes layerL, ..., "upL" undoes layer1, each doubling the map and stepping the channels
// back: 192, 128, 64, 32, 16, 8, 8 for the six-layer nets); then "out", a ConvTranspose2d(8 -> 1)
// with the stem's kernel, stride and padding (and the output_padding that lands on the input
// size) undoing conv1: (N, 1, S, S) logits.
class VaeDecoder : public UnaryModule {
 public:
  VaeDecoder(const ResNetConfig& encoder, int64_t latent_dim, Generator* gen = nullptr);
  std::string type_name() const override { return "VaeDecoder"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& z) override;  // z (N, d) -> logits (N, 1, S, S)

  std::shared_ptr<Linear> fc;
  std::vector<std::shared_ptr<Sequential>> stages;  // up1..upL: ConvTranspose2d, BatchNorm2d, ReLU
  std::shared_ptr<ConvTranspose2d> out;
  int64_t start_channels, start_size, output_size;
};

struct VaeOutput {
  Tensor mu, logvar;             // (N, d): q(z|x) = N(mu, diag exp(logvar))
  Tensor z;                      // (N, d): the reparameterised sample (= mu without a generator)
  Tensor reconstruction_logits;  // (N, 1, S, S): the image's mean is sigmoid(logits)
  Tensor label_logits;           // (N, C) classifier, (N, 1) regressor f(z)
};

// All 0-dim tensors, per-image means over the batch of N (labelled = the rows with label >= 0):
//   reconstruction = 1/N sum_i -log p(x_i|z_i)            (Gaussian: without its constant)
//   kl             = 1/N sum_i KL(q(z|x_i) || N(0, I))
//   label          = 1/labelled sum_{i labelled} -log p(y_i|z_i)   (0 when none is labelled)
//   total          = 1/N [ sum_i (rec_i + beta kl_i) + label_weight sum_{i labelled} -log p(y_i|z_i) ]
//                  = reconstruction + beta kl + label_weight (labelled / N) label
// i.e. the per-image mean of sum_unlabelled L_u + sum_labelled L_l (with beta, label_weight = 1).
struct VaeLoss {
  Tensor total, reconstruction, kl, label;
  int64_t labelled = 0;
};

class SemiSupervisedVAE : public Module {
 public:
  explicit SemiSupervisedVAE(const VaeConfig& c, Generator* init_gen = nullptr);
  std::string type_name() const override { return "SemiSupervisedVAE"; }
  std::string extra_repr() const override;
  // x (N, 1, S, S). With sample_gen: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) drawn from it
  // (training); without (null): z = mu.
  VaeOutput forward(const Tensor& x, Generator* sample_gen);
  // Class probabilities (N, C) from z = mu (the encoder and the head only). Classifier:
  // softmax(head(mu)). Regressor: the classes' posterior under the model's Gaussian p(y|z) and a
  // uniform prior, p(k|x) = softmax_k(-(k - f(mu))^2 / 2), k = 0..C-1 (monotone in f). Uses the
  // current mode (call eval() first for the running BatchNorm statistics) and records gradients
  // unless the caller holds a NoGradGuard.
  Tensor predict(const Tensor& x);
  // The regressor's class probabilities from f (N, 1): softmax_k(-(k - f)^2 / 2), k = 0..C-1.
  static Tensor regressor_probabilities(const Tensor& f, int64_t num_classes);

  VaeConfig config;
  std::shared_ptr<ResNet> encoder;  // parameters encoder.* (ResNet names); fc1 outputs (mu, logvar)
  std::shared_ptr<VaeDecoder> decoder;
  std::shared_ptr<Linear> label_head;  // latent_dim -> C (classifier) or 1 (regressor)
};

// The loss above. out.mu/logvar (N, d), out.reconstruction_logits of x's shape (N, 1, S, S) with x
// in [0, 1], out.label_logits (N, C) or (N, 1), labels int64 (N) in {-1, 0..C-1}; all float tensors
// of one dtype. Bad shapes or labels throw naming vae_loss.
VaeLoss vae_loss(const VaeOutput& out, const Tensor& x, const Tensor& labels, const VaeConfig& c);

}  // namespace cxr::nn
