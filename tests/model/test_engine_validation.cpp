// Bad checkpoints: each is a copy of the tiny64 golden checkpoint broken in one way (built in a
// temporary folder), and Model::load must refuse it with a message that names the file, the tensor
// and the problem. One case breaks several things at once: all of them must be reported together.
#include <cstdio>
#include <filesystem>
#include <functional>

#include "cxr/model/engine.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;

namespace {

const char* kShard1 = "model-00001-of-00002.safetensors";
const char* kShard2 = "model-00002-of-00002.safetensors";

// Edits one shard's header entries in place.
void editShard(const fs::path& dir, const char* shard, const std::function<void(std::vector<HeaderEntry>&, std::string&)>& edit) {
  Safetensors st = Safetensors::read(dir / shard);
  auto entries = headerEntries(st.header);
  edit(entries, st.data);
  st.header = headerJson(entries);
  st.write(dir / shard);
}
HeaderEntry* entry(std::vector<HeaderEntry>& es, const std::string& name) {
  for (auto& e : es)
    if (e.name == name) return &e;
  return nullptr;
}
// The shard that holds `name` according to the index.
std::string shardOf(const fs::path& dir, const std::string& name) {
  return readJson(dir / "model.safetensors.index.json").at("weight_map").at(name).get<std::string>();
}
void replaceInFile(const fs::path& p, const std::string& from, const std::string& to) {
  std::string s = readText(p);
  auto at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  writeText(p, s);
}

struct Case {
  const char* name;
  std::function<void(const fs::path&)> breakIt;
  std::vector<std::string> expected;  // substrings of the error message
};

}  // namespace

int main(int argc, char** argv) {
  const fs::path good = fs::path(check::testData(argc, argv)) / "model" / "golden-cxrllava" / "tiny64" / "checkpoint";
  const std::string gate = "llama.layers.0.mlp.gate_proj.weight";     // [176, 64]
  const std::string norm = "llama.layers.1.input_layernorm.weight";    // [64]

  const std::vector<Case> cases = {
      {"truncated shard",
       [](const fs::path& d) {
         std::string s = readText(d / kShard2);
         writeText(d / kShard2, s.substr(0, s.size() - 5000));
       },
       {kShard2, "truncated", "download it again"}},
      {"header length beyond the file",
       [](const fs::path& d) {
         std::string s = readText(d / kShard1);
         s[6] = char(0x7F);
         writeText(d / kShard1, s);
       },
       {kShard1, "header length", "runs past the end of the file"}},
      {"wrong shape",
       [&](const fs::path& d) {
         const std::string shard = shardOf(d, gate);
         editShard(d, shard.c_str(), [&](auto& es, auto&) { entry(es, gate)->shape = {64, 176}; });
       },
       {"'" + gate + "' has shape [64, 176], expected [176, 64]"}},
      {"missing tensor",
       [&](const fs::path& d) {
         const std::string shard = shardOf(d, norm);
         editShard(d, shard.c_str(), [&](auto& es, auto&) {
           es.erase(std::remove_if(es.begin(), es.end(), [&](const HeaderEntry& e) { return e.name == norm; }), es.end());
         });
         replaceInFile(d / "model.safetensors.index.json", "\"" + norm + "\"", "\"removed.from.the.index\"");
         replaceInFile(d / "model.safetensors.index.json", "\"removed.from.the.index\": \"" + shard + "\",", "");
       },
       {"tensor '" + norm + "' is missing", "expected shape [64]"}},
      {"unexpected tensor",
       [](const fs::path& d) {
         editShard(d, kShard1, [](auto& es, std::string& data) {
           HeaderEntry extra{"vision_tower.attn_pool.weight", "BF16", {4, 4}, data.size(), data.size() + 32};
           data += std::string(32, '\0');
           es.push_back(extra);
         });
         replaceInFile(d / "model.safetensors.index.json", "\"weight_map\": {",
                       std::string("\"weight_map\": {\"vision_tower.attn_pool.weight\": \"") + kShard1 + "\",");
       },
       {kShard1, "unexpected tensor 'vision_tower.attn_pool.weight'"}},
      {"wrong dtype",
       [&](const fs::path& d) {
         const std::string shard = shardOf(d, norm);
         editShard(d, shard.c_str(), [&](auto& es, auto&) { entry(es, norm)->dtype = "I16"; });
       },
       {"'" + norm + "' has dtype I16", "only BF16, F16 and F32"}},
      {"dtype that does not fit the bytes",
       [&](const fs::path& d) {
         const std::string shard = shardOf(d, norm);
         editShard(d, shard.c_str(), [&](auto& es, auto&) { entry(es, norm)->dtype = "F32"; });
       },
       {"'" + norm + "'", "data_offsets span 128 bytes", "needs 256 bytes"}},
      {"overlapping offsets",
       [](const fs::path& d) {
         editShard(d, kShard1, [](auto& es, auto&) {
           // move the second tensor (in file order) half-way into the first one
           std::sort(es.begin(), es.end(), [](const HeaderEntry& a, const HeaderEntry& b) { return a.begin < b.begin; });
           const uint64_t size = es[1].end - es[1].begin;
           es[1].begin = es[0].begin + 2;
           es[1].end = es[1].begin + size;
         });
       },
       {kShard1, "overlap"}},
      {"bad JSON in config.json",
       [](const fs::path& d) { replaceInFile(d / "config.json", "\"llama\": {", "\"llama\": {{"); },
       {"config.json is not valid JSON", "at byte"}},
      {"bad JSON in a safetensors header",
       [](const fs::path& d) {
         std::string s = readText(d / kShard2);
         s[8] = '[';  // the header's opening brace
         s[9] = '?';
         writeText(d / kShard2, s);
       },
       {kShard2, "header is not valid JSON"}},
      {"bad JSON in the index",
       [](const fs::path& d) { replaceInFile(d / "model.safetensors.index.json", "\"weight_map\"", "weight_map"); },
       {"model.safetensors.index.json is not valid JSON"}},
      {"missing shard",
       [](const fs::path& d) { fs::remove(d / kShard1); },
       {"points to model-00001-of-00002.safetensors, which is missing"}},
      {"pickle .bin only",
       [](const fs::path& d) {
         fs::remove(d / kShard1);
         fs::remove(d / kShard2);
         fs::remove(d / "model.safetensors.index.json");
         writeText(d / "pytorch_model.bin", "PK\x03\x04 not really a pickle");
       },
       {"pickle", "use the safetensors files"}},
      {"config key missing",
       [](const fs::path& d) { replaceInFile(d / "config.json", "\"num_hidden_layers\"", "\"num_hidden_layerz\""); },
       {"config.json: key llama.num_hidden_layers is missing"}},
      {"tokenizer missing, with a weight problem",
       [&](const fs::path& d) {
         fs::remove(d / "tokenizer.model");
         const std::string shard = shardOf(d, gate);
         editShard(d, shard.c_str(), [&](auto& es, auto&) { entry(es, gate)->shape = {64, 176}; });
       },
       {"tokenizer.model", "'" + gate + "' has shape [64, 176]", "2 problems"}},
      {"several problems at once",
       [&](const fs::path& d) {
         const std::string shard = shardOf(d, gate);
         editShard(d, shard.c_str(), [&](auto& es, auto&) { entry(es, gate)->shape = {64, 176}; });
         const std::string normShard = shardOf(d, norm);
         editShard(d, normShard.c_str(), [&](auto& es, auto&) { entry(es, norm)->dtype = "I16"; });
         std::string s = readText(d / kShard1);
         writeText(d / kShard1, s.substr(0, s.size() - 100));
       },
       {"'" + gate + "' has shape [64, 176]", "'" + norm + "' has dtype I16", kShard1, "truncated", "3 problems"}},
  };

  // The intact copy loads (the breakage, not the copying, is what the cases test).
  {
    TempDir tmp;
    copyFolder(good, tmp.path);
    bool loaded = false;
    try {
      auto m = cxr::Model::load(tmp.path.string(), {"cpu", "f32", 1});
      loaded = m->info().layers == 2;
    } catch (const std::exception& e) {
      std::printf("unexpected: %s\n", e.what());
    }
    CHECK(loaded, "an intact copy of tiny64 loads");
  }
  for (const auto& c : cases) {
    TempDir tmp;
    copyFolder(good, tmp.path);
    c.breakIt(tmp.path);
    std::string message;
    try {
      cxr::Model::load(tmp.path.string(), {"cpu", "f32", 1});
      message = "(loaded without complaint)";
    } catch (const cxr::ModelError& e) {
      message = e.what();
    } catch (const std::exception& e) {
      message = std::string("(not a ModelError) ") + e.what();
    }
    bool all = true;
    for (const auto& want : c.expected) {
      const bool found = message.find(want) != std::string::npos;
      all &= found;
      CHECK(found, std::string(c.name) + ": message should contain " + check::escaped(want) + "\n   message: " + message);
    }
    std::printf("  %-34s %s\n", c.name, all ? "reported" : "NOT REPORTED");
    if (std::string(c.name) == "several problems at once") std::printf("%s\n", message.c_str());
  }
  return check::finish("test_engine_validation");
}
