// vae.cpp — see vae.h; the objective and the choices behind it are in docs/VAE.md.
// Initialization: the encoder as every ResNet (Kaiming-normal convolutions, BN 1/0, PyTorch's
// default Linear); the decoder's Linear, transposed convolutions and the label head with PyTorch's
// defaults, BN weight 1 and bias 0. One init generator draws them in construction order.
#include "nn/models/vae.h"

#include <cmath>
#include <sstream>

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::nn {

void VaeConfig::validate() const {
  resnet_config(arch);  // throws listing the known architectures
  CXR_CHECK(latent_dim > 0, "vae: latent_dim must be positive, got ", latent_dim);
  CXR_CHECK(head == "classifier" || head == "regressor", "vae: unknown head '", head,
            "' (expected 'classifier' or 'regressor')");
  CXR_CHECK(num_classes >= 2, "vae: num_classes must be at least 2, got ", num_classes);
  CXR_CHECK(likelihood == "bernoulli" || likelihood == "gaussian", "vae: unknown likelihood '", likelihood,
            "' (expected 'bernoulli' or 'gaussian')");
  CXR_CHECK(gaussian_std > 0 && std::isfinite(gaussian_std), "vae: gaussian_std must be positive, got ", gaussian_std);
  CXR_CHECK(beta >= 0 && std::isfinite(beta), "vae: beta must be non-negative, got ", beta);
  CXR_CHECK(label_weight >= 0 && std::isfinite(label_weight), "vae: label_weight must be non-negative, got ",
            label_weight);
}

// ---- decoder ----
VaeDecoder::VaeDecoder(const ResNetConfig& enc, int64_t latent_dim, Generator* gen) {
  CXR_CHECK(latent_dim > 0, "vae decoder: latent_dim must be positive, got ", latent_dim);
  const int64_t stem_channels = 8;  // conv1's output channels in every ResNet (resnet.cpp)
  const int64_t layers = int64_t(enc.layer_channels.size());
  start_channels = enc.layer_channels.back();
  start_size = enc.final_map_size();
  output_size = enc.input_size;
  fc = register_module("fc", std::make_shared<Linear>(latent_dim, start_channels * start_size * start_size, true, gen));
  // Each stage doubles the map, (s - 1) 2 - 2 + 4 = 2 s, undoing one stride-2 layer; the chain
  // must land on the stem's output size (true for the power-of-two inputs of every architecture).
  int64_t channels = start_channels, size = start_size;
  for (int64_t i = 0; i < layers; ++i) {
    const int64_t next = i + 1 < layers ? enc.layer_channels[layers - 2 - i] : stem_channels;
    auto stage = std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
        std::make_shared<ConvTranspose2d>(channels, next, 4, 2, 1, 0, true, gen), std::make_shared<BatchNorm2d>(next),
        std::make_shared<ReLU>()});
    stages.push_back(register_module("up" + std::to_string(i + 1), stage));
    channels = next, size *= 2;
  }
  const int64_t stem_size = (enc.input_size + 2 * enc.conv1_padding - enc.conv1_kernel) / enc.conv1_stride + 1;
  CXR_CHECK(size == stem_size, "vae decoder: ", enc.name, ": the upsampling stages reach ", size,
            " but the stem's map is ", stem_size, " (the input size must be a power-of-two multiple of the last map)");
  // conv1 maps S to stem_size; its transpose maps stem_size back to (m - 1) s - 2 p + k, short of S
  // by the rows the stem's floor dropped, which output_padding restores.
  const int64_t reach = (stem_size - 1) * enc.conv1_stride - 2 * enc.conv1_padding + enc.conv1_kernel;
  const int64_t output_padding = enc.input_size - reach;
  CXR_CHECK(output_padding >= 0 && output_padding < enc.conv1_stride, "vae decoder: ", enc.name,
            ": cannot undo the stem exactly (output_padding ", output_padding, ")");
  out = register_module("out", std::make_shared<ConvTranspose2d>(stem_channels, 1, enc.conv1_kernel, enc.conv1_stride,
                                                                 enc.conv1_padding, output_padding, true, gen));
}

std::string VaeDecoder::extra_repr() const {
  std::ostringstream s;
  s << "z -> " << start_channels << "@" << start_size << "x" << start_size << " -> 1@" << output_size << "x"
    << output_size;
  return s.str();
}

Tensor VaeDecoder::forward(const Tensor& z) {
  CXR_CHECK(z.dim() == 2 && z.size(1) == fc->weight.size(1), "vae decoder: expected z (N, ", fc->weight.size(1),
            "), got ", shape_str(z.shape()));
  Tensor h = relu(fc->forward(z)).view({z.size(0), start_channels, start_size, start_size});
  for (auto& stage : stages) h = stage->forward(h);
  return out->forward(h);
}

// ---- model ----
SemiSupervisedVAE::SemiSupervisedVAE(const VaeConfig& c, Generator* init_gen) : config(c) {
  config.validate();
  encoder = register_module("encoder", std::shared_ptr<ResNet>(make_resnet(c.arch, 2 * c.latent_dim, init_gen)));
  decoder = register_module("decoder", std::make_shared<VaeDecoder>(encoder->config, c.latent_dim, init_gen));
  const int64_t head_outputs = c.head == "classifier" ? c.num_classes : 1;
  label_head = register_module("label_head", std::make_shared<Linear>(c.latent_dim, head_outputs, true, init_gen));
}

std::string SemiSupervisedVAE::extra_repr() const {
  std::ostringstream s;
  s << config.arch << ", latent_dim=" << config.latent_dim << ", head=" << config.head
    << ", likelihood=" << config.likelihood << ", beta=" << config.beta << ", label_weight=" << config.label_weight;
  return s.str();
}

VaeOutput SemiSupervisedVAE::forward(const Tensor& x, Generator* sample_gen) {
  VaeOutput out;
  Tensor stats = encoder->forward(x).logits;  // (N, 2d): [mu | logvar]
  const int64_t d = config.latent_dim;
  out.mu = stats.narrow(1, 0, d);
  out.logvar = stats.narrow(1, d, d);
  if (sample_gen != nullptr) {
    // Reparameterisation: z = mu + sigma * eps, sigma = exp(logvar / 2); eps carries no gradient,
    // so d z / d mu = 1 and d z / d logvar = sigma * eps / 2.
    Tensor eps = randn(out.mu.shape(), out.mu.options(), sample_gen);
    out.z = out.mu + exp(out.logvar * 0.5) * eps;
  } else {
    out.z = out.mu;
  }
  out.reconstruction_logits = decoder->forward(out.z);
  out.label_logits = label_head->forward(out.z);
  return out;
}

Tensor SemiSupervisedVAE::regressor_probabilities(const Tensor& f, int64_t num_classes) {
  CXR_CHECK(f.dim() == 2 && f.size(1) == 1, "vae: regressor output must be (N, 1), got ", shape_str(f.shape()));
  // log N(k; f, 1) up to a constant, for each class k; softmax over k normalises.
  Tensor k = arange(double(num_classes), f.options()).view({1, num_classes});
  Tensor diff = k - f;  // (N, C)
  return softmax(diff * diff * -0.5, 1);
}

Tensor SemiSupervisedVAE::predict(const Tensor& x) {
  Tensor mu = encoder->forward(x).logits.narrow(1, 0, config.latent_dim);
  Tensor head = label_head->forward(mu);
  if (config.head == "classifier") return softmax(head, 1);
  return regressor_probabilities(head, config.num_classes);
}

// ---- loss ----
VaeLoss vae_loss(const VaeOutput& out, const Tensor& x, const Tensor& labels_in, const VaeConfig& c) {
  const char* op = "vae_loss";
  const Tensor labels = labels_in.defined() ? labels_in.to(out.label_logits.device()) : labels_in;
  c.validate();
  for (const Tensor* t : {&out.mu, &out.logvar, &out.reconstruction_logits, &out.label_logits, &x})
    CXR_CHECK(t->defined(), op, ": an input tensor is undefined (mu, logvar, reconstruction_logits, label_logits, x)");
  CXR_CHECK(out.mu.dim() == 2 && out.logvar.shape() == out.mu.shape(), op, ": mu ", shape_str(out.mu.shape()),
            " and logvar ", shape_str(out.logvar.shape()), " must both be (N, latent_dim)");
  const int64_t N = out.mu.size(0);
  CXR_CHECK(N > 0, op, ": empty batch");
  CXR_CHECK(x.dim() == 4 && x.size(0) == N && x.size(1) == 1, op, ": x must be (N, 1, S, S) with N = ", N, ", got ",
            shape_str(x.shape()));
  CXR_CHECK(out.reconstruction_logits.shape() == x.shape(), op, ": reconstruction_logits ",
            shape_str(out.reconstruction_logits.shape()), " do not match x ", shape_str(x.shape()));
  const int64_t head_outputs = c.head == "classifier" ? c.num_classes : 1;
  CXR_CHECK(out.label_logits.dim() == 2 && out.label_logits.size(0) == N && out.label_logits.size(1) == head_outputs,
            op, ": label_logits must be (", N, ", ", head_outputs, ") for the ", c.head, " head, got ",
            shape_str(out.label_logits.shape()));
  CXR_CHECK(labels.defined() && labels.dtype() == DType::Int64 && labels.shape() == Shape{N}, op,
            ": labels must be int64 (", N, "), got ", labels.defined() ? dtype_name(labels.dtype()) : "undefined", " ",
            labels.defined() ? shape_str(labels.shape()) : "");
  VaeLoss loss;
  for (double v : labels.to_vector()) {
    CXR_CHECK(v == -1 || (v >= 0 && v < double(c.num_classes)), op, ": label ", int64_t(v),
              " is neither -1 (unlabelled) nor a class in [0, ", c.num_classes, ")");
    loss.labelled += v >= 0;
  }
  const double inv_n = 1.0 / double(N);

  // -log p(x|z), summed over pixels. Bernoulli with mean sigmoid(l): BCE with logits,
  //   -[x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))]  (the cross-entropy for x in [0, 1]);
  // Gaussian N(x; sigmoid(l), sigma^2): (x - sigmoid(l))^2 / (2 sigma^2), dropping P/2 log(2 pi sigma^2).
  const Tensor& logits = out.reconstruction_logits;
  Tensor rec_sum;
  if (c.likelihood == "bernoulli") {
    rec_sum = binary_cross_entropy_with_logits(logits, x, Reduction::Sum);
  } else {
    Tensor err = x - sigmoid(logits);
    rec_sum = sum(err * err) * (0.5 / (c.gaussian_std * c.gaussian_std));
  }
  loss.reconstruction = rec_sum * inv_n;

  // KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).
  Tensor kl_terms = out.mu * out.mu + exp(out.logvar) - out.logvar - 1.0;
  loss.kl = sum(kl_terms) * (0.5 * inv_n);

  // -log p(y|z) over the labelled rows. Classifier: cross-entropy, -1 ignored. Regressor
  // N(y; f(z), 1): (y - f)^2 / 2, dropping 1/2 log(2 pi); unlabelled rows masked to 0.
  Tensor label_sum;
  if (c.head == "classifier") {
    label_sum = cross_entropy(out.label_logits, labels, /*ignore_index=*/-1, Reduction::Sum);
  } else {
    Tensor is_labelled = ge(labels, scalar_tensor(0, labels.options()));
    Tensor target = labels.to(out.label_logits.dtype()).view({N, 1});
    Tensor err = out.label_logits - target;
    Tensor nll = err * err * 0.5;
    label_sum = sum(where(is_labelled.view({N, 1}), nll, zeros_like(nll)));
  }
  loss.label = loss.labelled > 0 ? label_sum * (1.0 / double(loss.labelled)) : zeros({}, x.options());
  loss.total = loss.reconstruction + loss.kl * c.beta + label_sum * (c.label_weight * inv_n);
  return loss;
}

}  // namespace cxr::nn
