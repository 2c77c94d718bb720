// Fused CPU kernel of DSRL's Feature Affinity distance for q = 1.
//
// For K = [A; B] and K- = [A; -B] (channels stacked, C = C1 + C2, N
// positions), S = K^T K- = A^T A - B^T B is the N x N difference of the two
// affinity matrices. This file computes, per sample,
//   forward:  sum_ij |S_ij|
//   backward: (K sign(S))[:, j] = sum_i K[:, i] sign(S_ij)   (S is symmetric)
// tile by tile: a ROWS x COLS tile of S lives in registers, is reduced (|.|
// and sum) or turned into signs and multiplied by the features right there,
// and is never written to memory. That is what PyTorch's operators cannot
// express (a product writes its result before the next operator reads it),
// and it is what brings the loss to the matrix-product rate.
//
// Inputs are contiguous, N is a multiple of COLS (the caller pads with zero
// positions, which contribute 0 to both results). Parallel over column
// panels with ATen's thread pool (torch.set_num_threads applies).
// Compiled with AVX2 + FMA (see setup.py); the Python side uses it only
// when torch reports at least that CPU capability.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

// 4 x 24 floats = 12 AVX2 registers of accumulators. Measured on the 2-core
// AMD EPYC (AVX-512) with -mavx2: 4 x 24 ran at 130-153 GFLOP/s forward;
// 4 x 16 and 6 x 16 were not vectorised by GCC (~10 GFLOP/s); 8 x 32 built
// for AVX-512 was within 7 % of 4 x 24.
constexpr int64_t kRows = 4;
constexpr int64_t kCols = 24;
// Rows summed in the input precision before the sum moves to double.
// A multiple of kRows (N is a multiple of kCols, hence of kRows).
constexpr int64_t kFlushRows = 256;

// setup.py defines it as the SHA-256 of this file; the Python loader
// refuses a build whose hash differs from the source next to it (an editable
// install keeps the old .so until rebuilt).
#ifndef AFFINITY_L1_CPU_SOURCE_SHA256
#define AFFINITY_L1_CPU_SOURCE_SHA256 "unknown"
#endif

template <typename T>
inline void tile_scores(const T* __restrict rows, const T* __restrict panel,
                        int64_t channels, T (&s)[kRows][kCols]) {
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t j = 0; j < kCols; ++j) s[r][j] = T(0);
  for (int64_t c = 0; c < channels; ++c) {
    const T* col = panel + c * kCols;
    for (int64_t r = 0; r < kRows; ++r) {
      const T a = rows[r * channels + c];
#pragma GCC ivdep
      for (int64_t j = 0; j < kCols; ++j) s[r][j] += a * col[j];
    }
  }
}

// Copies k_minus[:, j0:j0 + kCols] (row stride n) into a C x kCols panel.
template <typename T>
inline void pack_panel(const T* k_minus, int64_t n, int64_t channels,
                       int64_t j0, T* panel) {
  for (int64_t c = 0; c < channels; ++c)
    std::copy(k_minus + c * n + j0, k_minus + c * n + j0 + kCols,
              panel + c * kCols);
}

template <typename T>
double l1_sum_one(const T* k_t, const T* k_minus, int64_t n,
                  int64_t channels) {
  return at::parallel_reduce(
      0, n / kCols, 1, 0.0,
      [&](int64_t begin, int64_t end, double total) {
        std::vector<T> panel(channels * kCols);
        T s[kRows][kCols];
        for (int64_t jb = begin; jb < end; ++jb) {
          pack_panel(k_minus, n, channels, jb * kCols, panel.data());
          // Partial sums in T over at most kFlushRows rows, then in double:
          // a float32 sum over all N rows of a column would lose ~1e-4.
          for (int64_t f0 = 0; f0 < n; f0 += kFlushRows) {
            T acc[kCols] = {};
            const int64_t f1 = std::min(n, f0 + kFlushRows);
            for (int64_t i0 = f0; i0 < f1; i0 += kRows) {
              tile_scores(k_t + i0 * channels, panel.data(), channels, s);
              for (int64_t r = 0; r < kRows; ++r)
                for (int64_t j = 0; j < kCols; ++j)
                  acc[j] += std::abs(s[r][j]);
            }
            for (int64_t j = 0; j < kCols; ++j) total += acc[j];
          }
        }
        return total;
      },
      [](double x, double y) { return x + y; });
}

// Rows [c_begin, c_end) of K sign(S) (the other rows are not computed: a
// side without gradient costs nothing), written to out (c_end - c_begin, n).
template <typename T>
void sign_product_one(const T* k_t, const T* k_minus, int64_t n,
                      int64_t channels, int64_t c_begin, int64_t c_end,
                      T* out) {
  const int64_t rows_out = c_end - c_begin;
  at::parallel_for(0, n / kCols, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> panel(channels * kCols);
    std::vector<T> acc(rows_out * kCols);
    T s[kRows][kCols];
    for (int64_t jb = begin; jb < end; ++jb) {
      pack_panel(k_minus, n, channels, jb * kCols, panel.data());
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t i0 = 0; i0 < n; i0 += kRows) {
        const T* rows = k_t + i0 * channels;
        tile_scores(rows, panel.data(), channels, s);
        for (int64_t r = 0; r < kRows; ++r)
          for (int64_t j = 0; j < kCols; ++j)
            s[r][j] = T((s[r][j] > T(0)) - (s[r][j] < T(0)));
        for (int64_t c = c_begin; c < c_end; ++c) {
          T* a = acc.data() + (c - c_begin) * kCols;
          for (int64_t r = 0; r < kRows; ++r) {
            const T k = rows[r * channels + c];
#pragma GCC ivdep
            for (int64_t j = 0; j < kCols; ++j) a[j] += k * s[r][j];
          }
        }
      }
      for (int64_t c = 0; c < rows_out; ++c)
        std::copy(acc.data() + c * kCols, acc.data() + (c + 1) * kCols,
                  out + c * n + jb * kCols);
    }
  });
}

void check_inputs(const torch::Tensor& k_t, const torch::Tensor& k_minus) {
  TORCH_CHECK(k_t.device().is_cpu() && k_minus.device().is_cpu(),
              "affinity_l1_cpu: expected CPU tensors");
  TORCH_CHECK(k_t.dim() == 3 && k_minus.dim() == 3,
              "affinity_l1_cpu: expected k_t (B, N, C) and k_minus (B, C, N)");
  TORCH_CHECK(k_t.size(0) == k_minus.size(0) &&
                  k_t.size(1) == k_minus.size(2) &&
                  k_t.size(2) == k_minus.size(1),
              "affinity_l1_cpu: shapes ", k_t.sizes(), " and ",
              k_minus.sizes(), " do not match (B, N, C) / (B, C, N)");
  TORCH_CHECK(k_t.size(1) % kCols == 0, "affinity_l1_cpu: N = ",
              k_t.size(1), " is not a multiple of ", kCols);
  TORCH_CHECK(k_t.is_contiguous() && k_minus.is_contiguous(),
              "affinity_l1_cpu: expected contiguous inputs");
  TORCH_CHECK(k_t.scalar_type() == k_minus.scalar_type(),
              "affinity_l1_cpu: dtypes differ");
}

}  // namespace

// Per-sample sum_ij |(k_t @ k_minus)_ij|, float64, shape (B,).
torch::Tensor l1_sum(const torch::Tensor& k_t, const torch::Tensor& k_minus) {
  check_inputs(k_t, k_minus);
  const int64_t batch = k_t.size(0), n = k_t.size(1), channels = k_t.size(2);
  auto out = torch::empty({batch}, k_t.options().dtype(torch::kFloat64));
  auto out_a = out.accessor<double, 1>();
  AT_DISPATCH_FLOATING_TYPES(k_t.scalar_type(), "affinity_l1_sum", [&] {
    for (int64_t b = 0; b < batch; ++b)
      out_a[b] = l1_sum_one<scalar_t>(k_t[b].data_ptr<scalar_t>(),
                                      k_minus[b].data_ptr<scalar_t>(), n,
                                      channels);
  });
  return out;
}

// Per-sample rows [c_begin, c_end) of k_t^T @ sign(k_t @ k_minus), shape
// (B, c_end - c_begin, N): the gradient of l1_sum with respect to those
// rows of K, up to the factor 2 and B's sign flip.
torch::Tensor sign_product(const torch::Tensor& k_t,
                           const torch::Tensor& k_minus, int64_t c_begin,
                           int64_t c_end) {
  check_inputs(k_t, k_minus);
  const int64_t batch = k_t.size(0), n = k_t.size(1), channels = k_t.size(2);
  TORCH_CHECK(0 <= c_begin && c_begin < c_end && c_end <= channels,
              "affinity_l1_cpu: channel range [", c_begin, ", ", c_end,
              ") outside [0, ", channels, ")");
  auto out = torch::empty({batch, c_end - c_begin, n}, k_minus.options());
  AT_DISPATCH_FLOATING_TYPES(k_t.scalar_type(), "affinity_sign_product", [&] {
    for (int64_t b = 0; b < batch; ++b)
      sign_product_one<scalar_t>(k_t[b].data_ptr<scalar_t>(),
                                 k_minus[b].data_ptr<scalar_t>(), n, channels,
                                 c_begin, c_end, out[b].data_ptr<scalar_t>());
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.attr("SOURCE_SHA256") = AFFINITY_L1_CPU_SOURCE_SHA256;
  m.attr("COLUMN_TILE") = kCols;
  m.def("l1_sum", &l1_sum, "sum_ij |(k_t @ k_minus)_ij| per sample");
  m.def("sign_product", &sign_product,
        "rows [c_begin, c_end) of k_t^T @ sign(k_t @ k_minus) per sample",
        py::arg("k_t"), py::arg("k_minus"), py::arg("c_begin"),
        py::arg("c_end"));
}
