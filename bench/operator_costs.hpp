#pragma once
// The least work of one call of each benchmarked operator, float32, batch 1, for the roofline
// (bench/roofline.hpp). The counts are lower bounds that no exact algorithm we know beats:
//   bytes  every input read once and every output (the final state included) written once;
//   flops  multiply-adds of the state products, an FMA counting 2. For the chunked forms the
//          count is that of writing each token into the state and reading it out (2 FMAs per
//          state element per token); the per-element decay is not counted, since the chunked
//          forms fold it into their score matrices;
//   exps   exp, log and sigmoid evaluations, one each, where the operator must make one per
//          state element or per channel and step (not the per-head scalars).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bench/roofline.hpp"

namespace subq::bench {

namespace costs {

constexpr double kFloat = 4;  // bytes of a float32

/// Mamba-1's selective scan, D channels of N states, B and C shared, with the z gate, the D skip
/// and softplus(delta + bias): per channel, step and state exp(delta A) (one multiply, one exp),
/// delta u B (a multiply), the state's update (an FMA) and C x (an FMA); per channel and step the
/// softplus (exp and log) and the gate's sigmoid. Reads u, delta, z, B and C, writes out.
inline Cost selective_scan(std::int64_t D, std::int64_t L, std::int64_t N) {
  const double steps = double(D) * double(L);
  return {kFloat * (4 * steps + 2.0 * double(N) * double(L)), 6 * steps * double(N), steps * double(N) + 3 * steps};
}

/// Mamba-2's SSD, H heads of P channels, N states, one group: 2 FMAs per state element (N x P per
/// head) and token. Reads X, A, B and C, writes Y.
inline Cost ssd(std::int64_t L, std::int64_t H, std::int64_t P, std::int64_t N) {
  const double tokens = double(L), heads = double(H);
  return {kFloat * tokens * (2 * heads * double(P) + heads + 2 * double(N)), 4 * tokens * heads * double(N) * double(P),
          tokens * heads};
}

/// Mamba's causal depthwise convolution with its bias and SiLU, D channels, `width` taps: an FMA
/// per tap, a sigmoid per output. Reads x, writes out.
inline Cost causal_conv1d(std::int64_t D, std::int64_t L, std::int64_t width) {
  const double outputs = double(D) * double(L);
  return {kFloat * 2 * outputs, 2 * double(width) * outputs, outputs};
}

/// RWKV-6's WKV, H heads with d x d states: 2 FMAs per state element and token (r S out, k v^T in);
/// exp of the log-decay per key channel. Reads r, k, v, w, writes o and the final state.
inline Cost wkv6(std::int64_t L, std::int64_t H, std::int64_t d) {
  const double elements = double(L) * double(H) * double(d), state = double(H) * double(d) * double(d);
  return {kFloat * (5 * elements + state), 4 * double(L) * state, elements};
}

/// RWKV-7's WKV (the generalised delta rule), H heads with d x d states: 4 FMAs per state element
/// and token (S a, its rank-one update with b, v k^T in, S r out); exp of the log-decay per key
/// channel. Reads r, w, k, v, a, b, writes o and the final state.
inline Cost wkv7(std::int64_t L, std::int64_t H, std::int64_t d) {
  const double elements = double(L) * double(H) * double(d), state = double(H) * double(d) * double(d);
  return {kFloat * (7 * elements + state), 8 * double(L) * state, elements};
}

/// RWKV-4's WKV over C channels, in the max-scaled form: per channel and step four exps (two for
/// the output, two for the update) and eight flops (the output's ratio of two FMA pairs and a
/// division, the update's two FMAs). Reads k and v, writes out and the three state rows.
inline Cost wkv4(std::int64_t L, std::int64_t C) {
  const double steps = double(L) * double(C);
  return {kFloat * (3 * steps + 3.0 * double(C)), 8 * steps, 4 * steps};
}

/// RetNet's retention, H heads with d_k x d_v states and a constant decay per head: 2 FMAs per
/// state element and token. Reads q, k, v, writes o and the final state.
inline Cost retention(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double state = double(H) * double(dk) * double(dv);
  return {kFloat * (double(L) * double(H) * double(2 * dk + 2 * dv) + state), 4 * double(L) * state, 0};
}

/// Causal softmax attention, H heads of d, L new queries after `context` cached keys: per query
/// and visible key a d-long score and a d-wide update of the output (2 FMAs per channel) and one
/// exp. Reads q and the L + context keys and values, writes o.
inline Cost attention(std::int64_t L, std::int64_t context, std::int64_t H, std::int64_t d) {
  const double pairs = double(L) * double(context) + double(L) * double(L + 1) / 2, width = double(H) * double(d);
  return {kFloat * width * double(2 * L + 2 * (context + L)), 4 * width * pairs, double(H) * pairs};
}

/// The FFT long convolution over D channels: per channel three real FFTs of 2L points (x and k
/// forward, their product back), 2.5 n log2 n flops each (half of a complex FFT's 5 n log2 n),
/// and the complex product (6 flops per frequency). Reads x and k, writes y.
inline Cost fft_conv(std::int64_t D, std::int64_t L) {
  const double n = 2.0 * double(L);
  return {kFloat * 3 * double(D) * double(L), double(D) * (3 * 2.5 * n * std::log2(n) + 6 * n / 2), 0};
}

/// The Hyena operator at bench/random_hyena.hpp's shapes (order 2: one long convolution; filter
/// MLP 3 -> 64 -> 64 -> D with sines): the in- and out-projections (D -> 3D, D -> D), the
/// width-3 short convolution over 3D channels, the filter MLP at L positions and its decay (an exp
/// per filter tap), the long convolution. Reads u and the projections' weights, writes y.
inline Cost hyena(std::int64_t D, std::int64_t L) {
  const double d = double(D), tokens = double(L), hidden = 64;
  const Cost conv = fft_conv(D, L);
  const double projections = 2 * tokens * d * (3 * d + d), short_conv = 2 * 3 * 3 * d * tokens,
               filter_mlp = 2 * tokens * (3 * hidden + hidden * hidden + hidden * d);
  return {kFloat * (2 * tokens * d + 4 * d * d), projections + short_conv + filter_mlp + conv.flops,
          tokens * (2 * hidden + d)};
}

/// Linear attention (fla's, elu+1 features, normalised), H heads with d_k x d_v states: 2 FMAs per
/// state element and token, 2 more per key channel for the normaliser; an exp per feature of q and
/// k. Reads q, k, v, writes o and the final state.
inline Cost linear_attention(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double state = double(H) * double(dk) * double(dv), keys = double(L) * double(H) * double(dk);
  return {kFloat * (double(L) * double(H) * double(2 * dk + 2 * dv) + state), 4 * double(L) * state + 4 * keys,
          2 * keys};
}

/// BASED, H heads of d_k-wide q and k, d_v-wide v: linear attention over its F = 1 + d_k +
/// d_k (d_k + 1) / 2 Taylor features (2 FMAs per feature x value and token, the normaliser's 2 per
/// feature), plus the features themselves (one multiply each). Reads q, k, v, writes o.
inline Cost based(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double F = double(1 + dk + dk * (dk + 1) / 2), tokens = double(L) * double(H);
  return {kFloat * tokens * double(2 * dk + 2 * dv), tokens * (4 * F * double(dv) + 4 * F + 2 * F), 0};
}

/// GLA, H heads with d_k x d_v states and a decay per key channel: as RWKV-6's WKV (2 FMAs per
/// state element and token, an exp per key channel). Reads q, k, v, gk, writes o and the state.
inline Cost gla(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double keys = double(L) * double(H) * double(dk), state = double(H) * double(dk) * double(dv);
  return {kFloat * (3 * keys + 2 * double(L) * double(H) * double(dv) + state), 4 * double(L) * state, keys};
}

/// The delta rule (gated or not), H heads with d_k x d_v states: 3 FMAs per state element and token
/// (k S recalled, the rank-one write, q S out); the gated decay is a scalar per head. Reads q, k,
/// v, beta (and g), writes o and the final state.
inline Cost delta_rule(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double state = double(H) * double(dk) * double(dv);
  return {kFloat * (double(L) * double(H) * double(2 * dk + 2 * dv + 2) + state), 6 * double(L) * state,
          double(L) * double(H)};
}

/// The mLSTM cell, H heads with d_k x d_v memories: 2 FMAs per memory element and token, 2 per key
/// channel for the normaliser; the gates' exps per head and step. Reads q, k, v and both gates,
/// writes h and the final C, n, m.
inline Cost mlstm(std::int64_t L, std::int64_t H, std::int64_t dk, std::int64_t dv) {
  const double state = double(H) * double(dk) * double(dv), keys = double(L) * double(H) * double(dk);
  return {kFloat * (double(L) * double(H) * double(2 * dk + 2 * dv + 2) + state), 4 * double(L) * state + 4 * keys,
          3 * double(L) * double(H)};
}

/// Griffin's RG-LRU layer over D channels in blocks of D / heads: the two gates' block-diagonal
/// products (2 FMAs per channel and block input each), the recurrence (an FMA); per channel and
/// step the two sigmoids, exp(log a), exp(2 log a) and the square root. Reads x and the gates'
/// weights, writes y.
inline Cost rglru(std::int64_t L, std::int64_t D, std::int64_t heads) {
  const double steps = double(L) * double(D), block = double(D / heads);
  return {kFloat * (2 * steps + 2 * double(D) * block), 4 * steps * block + 2 * steps, 5 * steps};
}

/// Causal attention over a sliding window of W keys, H heads of d: as attention, over the
/// min(t + 1, W) keys each query sees.
inline Cost sliding_window_attention(std::int64_t L, std::int64_t W, std::int64_t H, std::int64_t d) {
  const double full = double(std::min(L, W)), pairs = full * (full + 1) / 2 + double(L - std::min(L, W)) * double(W),
               width = double(H) * double(d);
  return {kFloat * width * double(4 * L), 4 * width * pairs, double(H) * pairs};
}

}  // namespace costs

}  // namespace subq::bench
