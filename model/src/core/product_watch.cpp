#include "core/product_watch.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "core/products.h"

namespace cxr::detail {

struct ProductWatch::State {
  std::atomic<int64_t> bf16{0}, other{0};
  std::vector<std::string> bf16Names;  // guarded by gWatchesMutex
};

namespace {

// Every ATen operator that multiplies matrices (or reduces to it: convolutions, einsum).
bool isProduct(const char* name) {
  static const char* const kProducts[] = {
      "aten::mm",     "aten::addmm",   "aten::bmm",         "aten::baddbmm",    "aten::addbmm", "aten::matmul",
      "aten::linear", "aten::mv",      "aten::addmv",       "aten::dot",        "aten::vdot",   "aten::einsum",
      "aten::conv1d", "aten::conv2d",  "aten::convolution", "aten::_convolution", "aten::tensordot",
      "aten::_addmm_activation", "aten::mkldnn_linear", "aten::chain_matmul", "aten::linalg_multi_dot"};
  for (const char* p : kProducts)
    if (std::strcmp(name, p) == 0) return true;
  return false;
}

// RecordFunction takes plain function pointers: the live watches' state is reached through a global.
std::mutex gWatchesMutex;
std::vector<std::shared_ptr<ProductWatch::State>> gWatches;

std::unique_ptr<at::ObserverContext> onOperator(const at::RecordFunction& fn) {
  if (!isProduct(fn.name())) return nullptr;
  bool bf16 = false;
  for (const c10::IValue& v : fn.inputs())
    if (v.isTensor() && v.toTensor().defined() && v.toTensor().scalar_type() == at::kBFloat16) bf16 = true;
  std::lock_guard<std::mutex> lock(gWatchesMutex);
  for (const auto& state : gWatches) {
    if (!bf16) {
      ++state->other;
      continue;
    }
    ++state->bf16;
    if (std::find(state->bf16Names.begin(), state->bf16Names.end(), fn.name()) == state->bf16Names.end())
      state->bf16Names.emplace_back(fn.name());
  }
  return nullptr;
}

}  // namespace

ProductWatch::ProductWatch() : state_(std::make_shared<State>()), fp32RouteAtStart_(productsInFp32Compute()) {
  {
    std::lock_guard<std::mutex> lock(gWatchesMutex);
    gWatches.push_back(state_);
  }
  handle_ = at::addGlobalCallback(
      at::RecordFunctionCallback(&onOperator).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
}

ProductWatch::~ProductWatch() {
  at::removeCallback(handle_);
  std::lock_guard<std::mutex> lock(gWatchesMutex);
  gWatches.erase(std::find(gWatches.begin(), gWatches.end(), state_));
}

int64_t ProductWatch::bf16Products() const { return state_->bf16.load(); }
int64_t ProductWatch::otherProducts() const { return state_->other.load(); }
int64_t ProductWatch::fp32RouteProducts() const { return productsInFp32Compute() - fp32RouteAtStart_; }
std::vector<std::string> ProductWatch::bf16ProductNames() const {
  std::lock_guard<std::mutex> lock(gWatchesMutex);
  return state_->bf16Names;
}

}  // namespace cxr::detail
