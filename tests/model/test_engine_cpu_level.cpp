// The CPU level (model/src/core/cpu_level.h) and where the engine's matrix products go at each level:
// - CXR_CPU_LEVEL=avx2 lowers the level, and ModelInfo reports the level the engine runs at;
// - at level avx2 a whole bf16 image question (vision tower, projector, prefill, decode) passes no
//   bf16 matrix product to libtorch (ATen's generic bf16 GEMM runs at ~1 GFLOP/s without AVX-512,
//   and oneDNN's bf16 matmul aborts when capped at AVX2): they take the fp32-compute route;
// - at level avx512 the same run does hand bf16 products to libtorch (oneDNN), which also shows that
//   the probe (ProductWatch, libtorch's operator observers) sees them.
// ctest runs it as the machine is, with CXR_CPU_LEVEL=avx2, and with oneDNN capped at AVX2 as well.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/cpu_level.h"
#include "core/product_watch.h"
#include "cxr/model/engine.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;
using cxr::detail::CpuLevel;

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const char* requested = std::getenv("CXR_CPU_LEVEL");
  const bool askedAvx2 = requested && std::strcmp(requested, "avx2") == 0;
  __builtin_cpu_init();
  const bool cpuAvx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("avx512bf16");
  const CpuLevel level = cxr::detail::cpuLevel();
  CHECK(level == (cpuAvx512 && !askedAvx2 ? CpuLevel::Avx512 : CpuLevel::Avx2),
        std::string("CPU level ") + cxr::detail::toString(level) + " (CXR_CPU_LEVEL=" + (requested ? requested : "") +
            ", AVX-512 BF16 " + (cpuAvx512 ? "present" : "absent") + ")");
  std::printf("CPU level %s\n", cxr::detail::toString(level));
  if (!cxr::detail::cpuHasAvx2()) {
    std::printf("no AVX2/FMA/F16C on this CPU: bf16 cannot load; skipped\n");
    return check::finish("test_engine_cpu_level");
  }

  const fs::path golden = fs::path(check::testData(argc, argv)) / "model" / "golden-cxrllava" / "grid32";
  cxr::LoadOptions options;
  options.dtype = "bf16";
  options.threads = 2;
  auto model = cxr::Model::load((golden / "checkpoint").string(), options);
  CHECK(model->info().cpuLevel == cxr::detail::toString(level), "ModelInfo.cpuLevel = " + model->info().cpuLevel);

  const Json ref = readJson(golden / "report" / "reference.json");
  const auto promptIds = intList(ref.at("prompt").at("ids"));
  const cxr::ImageInput crop = loadGrayPng(golden / "report" / "nih_cxr14_00000001_000.crop_uint8.png");
  cxr::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.maxNewTokens = 4;

  cxr::detail::ProductWatch watch;
  auto image = model->encodeImage(crop);                                        // vision tower + projector
  const auto result = cxr::generateFromIds(*model, promptIds, image, greedy);  // prefill, then decode steps
  CHECK(result.tokenIds.size() == 4, "four tokens generated");
  cxr::Conversation conversation(*model);                                    // a follow-up: a short prefill
  conversation.setImage(image);
  conversation.send(cxr::prompts::kReport, greedy);
  conversation.send("Is there a pleural effusion?", greedy);

  std::printf("products seen by libtorch: %lld with a bf16 operand (%s), %lld others; %lld bf16 products in fp32 compute\n",
              static_cast<long long>(watch.bf16Products()), joined(watch.bf16ProductNames()).c_str(),
              static_cast<long long>(watch.otherProducts()), static_cast<long long>(watch.fp32RouteProducts()));
  if (level == CpuLevel::Avx2) {
    CHECK(watch.bf16Products() == 0,
          "level avx2: no bf16 product reaches libtorch, but " + std::to_string(watch.bf16Products()) + " did (" +
              joined(watch.bf16ProductNames()) + ")");
    CHECK(watch.fp32RouteProducts() > 0, "level avx2: the products went the fp32-compute route");
  } else {
    CHECK(watch.bf16Products() > 0, "level avx512: bf16 products go to libtorch (oneDNN) and the probe sees them");
    CHECK(watch.fp32RouteProducts() == 0, "level avx512: nothing takes the fp32-compute route");
  }
  return check::finish("test_engine_cpu_level");
}
