// Engine behaviour on the tiny64 golden checkpoint (float32):
//  - cancellation during load, image encoding, prefill and decode returns promptly and leaves the
//    engine usable (the next call gives the golden result);
//  - a conversation keeps its KV cache: a follow-up processes only its own new tokens and gives
//    the same tokens as a fresh run over the whole prompt; popLastExchange / reset; image reuse;
//  - sampling: the same seed gives the same tokens, the seed is always reported, top-k 1 = greedy;
//  - the max-new-tokens rule of the reference and the context limit;
//  - writeRandomCheckpoint("tiny") writes a folder that loads and generates, in BF16, F16 and F32.
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>

#include "cxr/model/tools.h"
#include "support/check.h"
#include "support/engine_fixtures.h"

namespace fs = std::filesystem;
using namespace fixtures;

namespace {

std::vector<int32_t> head(const std::vector<int32_t>& v, size_t n) {
  return std::vector<int32_t>(v.begin(), v.begin() + std::min(n, v.size()));
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path golden = fs::path(check::testData(argc, argv)) / "model" / "golden-cxrllava" / "tiny64";
  const fs::path folder = golden / "checkpoint";
  const Json ref = readJson(golden / "report" / "reference.json");
  const auto reportIds = intList(ref.at("prompt").at("ids"));
  const auto goldenGreedy = intList(ref.at("cases")[0].at("greedy_ids"));
  const cxr::ImageInput crop = loadGrayPng(golden / "report" / "nih_cxr14_00000001_000.crop_uint8.png");
  const cxr::LoadOptions f32{"cpu", "f32", 1};

  // ---- cancellation during load: at the first call, and in the middle of the tensors
  for (int stopAt : {0, 5, 40}) {
    int calls = 0, callsAfterStop = 0;
    bool cancelled = false;
    try {
      cxr::Model::load(folder.string(), f32, [&](double, const std::string&) {
        if (calls > stopAt) ++callsAfterStop;
        return calls++ < stopAt;
      });
    } catch (const cxr::LoadCancelled&) {
      cancelled = true;
    }
    CHECK(cancelled, "load cancelled at progress call " + std::to_string(stopAt));
    CHECK(callsAfterStop == 0, "no progress after the cancel (" + std::to_string(callsAfterStop) + " calls)");
  }
  // The shared image prefix is off here, so that "prefills the whole prompt" means what it says;
  // test_engine_prefix covers it.
  cxr::LoadOptions noSharedPrefix = f32;
  noSharedPrefix.prefixCacheImages = 0;
  auto model = cxr::Model::load(folder.string(), noSharedPrefix);
  CHECK(model->info().imageTokens == 16 && model->info().maxContext == 2048, "tiny64 info: 16 image tokens, context 2048");

  // ---- cancellation during image encoding
  {
    bool cancelled = false;
    try {
      model->encodeImage(crop, [](cxr::Phase phase, int done, int) { return !(phase == cxr::Phase::Vision && done == 1); });
    } catch (const cxr::Cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled, "encodeImage cancelled within the vision layers");
  }
  auto image = model->encodeImage(crop);

  // ---- cancellation during prefill, then during decode; the golden result right after each
  {
    int calls = 0;
    auto r = cxr::generateFromIds(*model, reportIds, image, greedy(16), {}, [&](cxr::Phase p, int done, int) {
      ++calls;
      return !(p == cxr::Phase::Prefill && done == 1);
    });
    CHECK(r.stopReason == cxr::StopReason::Cancelled && r.tokenIds.empty(), "prefill cancelled: no tokens");
    auto again = cxr::generateFromIds(*model, reportIds, image, greedy(16));
    CHECK_EQ_VEC(again.tokenIds, goldenGreedy, "golden ids after a prefill cancel");
  }
  {
    auto r = cxr::generateFromIds(*model, reportIds, image, greedy(16),
                                  [](const cxr::TokenEvent& e) { return e.index < 3; });
    CHECK(r.stopReason == cxr::StopReason::Cancelled, "decode cancelled by the token callback");
    CHECK_EQ_VEC(r.tokenIds, head(goldenGreedy, 4), "tokens up to the cancel are kept");
    auto again = cxr::generateFromIds(*model, reportIds, image, greedy(16));
    CHECK_EQ_VEC(again.tokenIds, goldenGreedy, "golden ids after a decode cancel");
    // Streamed text: the events add up to the result text, which is the decode of the ids
    // (these random ids contain no newline, so the streamer's newline rule does not apply).
    std::string streamed;
    auto s = cxr::generateFromIds(*model, reportIds, image, greedy(16), [&](const cxr::TokenEvent& e) {
      streamed += e.text;
      return true;
    });
    CHECK(streamed == s.text || s.text.rfind(streamed, 0) == 0, "streamed chunks add up to the text");
    if (s.text.find('\n') == std::string::npos)
      CHECK(s.text == model->detokenize(s.tokenIds), "text = decode(ids): " + check::escaped(s.text));
  }

  // ---- conversation with KV reuse
  {
    cxr::Conversation conv(*model);
    conv.setImage(image);
    auto r1 = conv.send(cxr::prompts::kReport, greedy(8));
    CHECK_EQ_VEC(r1.promptIds, reportIds, "conversation prompt ids = the reference report prompt");
    CHECK_EQ_VEC(r1.tokenIds, head(goldenGreedy, 8), "first answer = golden greedy ids");
    CHECK(r1.timings.prefillPositions == int(reportIds.size()) - 1 + 16, "first turn prefills the whole prompt");
    const int cachedAfter1 = conv.cachedPositions();
    CHECK(cachedAfter1 >= int(reportIds.size()) - 1 + 16 + 7, "cache holds prompt + answer: " + std::to_string(cachedAfter1));

    auto r2 = conv.send("Is there a pleural effusion?", greedy(6));
    const int fullPositions = int(r2.promptIds.size()) - 1 + 16;
    const int newIds = int(r2.promptIds.size()) - int(r1.promptIds.size()) - int(r1.tokenIds.size());
    std::printf("  follow-up: %d positions in the prompt, %d processed (%d new ids)\n", fullPositions,
                r2.timings.prefillPositions, newIds);
    CHECK(r2.timings.prefillPositions <= newIds + 1 && r2.timings.prefillPositions > 0,
          "follow-up processes only its new tokens: " + std::to_string(r2.timings.prefillPositions));
    CHECK(r2.timings.visionSeconds == 0, "follow-up does not encode the image again");
    auto fresh = cxr::generateFromIds(*model, r2.promptIds, image, greedy(6));
    CHECK_EQ_VEC(r2.tokenIds, fresh.tokenIds, "follow-up with the cache = fresh run over the whole prompt");
    CHECK(conv.messages().size() == 5, "system, user, assistant, user, assistant");

    const std::string popped = conv.popLastExchange();
    CHECK(popped == "Is there a pleural effusion?", "popLastExchange returns the question");
    CHECK(conv.messages().size() == 3 && conv.cachedPositions() <= cachedAfter1 + 3,
          "popLastExchange drops the exchange and its cache positions");
    auto r2b = conv.send(popped, greedy(6));
    CHECK_EQ_VEC(r2b.tokenIds, r2.tokenIds, "regenerated answer equals the first (greedy)");
    CHECK(r2b.timings.prefillPositions <= newIds + 1, "regenerate reuses the cache before the exchange");

    // cancel in the middle of an answer, then continue the conversation
    auto r3 = conv.send("And the heart?", greedy(6), [](const cxr::TokenEvent& e) { return e.index < 1; });
    CHECK(r3.stopReason == cxr::StopReason::Cancelled && r3.tokenIds.size() == 2, "answer cancelled after 2 tokens");
    auto r4 = conv.send("Thanks.", greedy(3));
    auto fresh4 = cxr::generateFromIds(*model, r4.promptIds, image, greedy(3));
    CHECK_EQ_VEC(r4.tokenIds, fresh4.tokenIds, "conversation usable after a cancel, same as a fresh run");

    conv.reset();
    CHECK(conv.messages().size() == 1 && conv.cachedPositions() == 0 && conv.image() == image,
          "reset keeps system prompt and image, empties the cache");
    auto r5 = conv.send(cxr::prompts::kReport, greedy(8));
    CHECK_EQ_VEC(r5.tokenIds, head(goldenGreedy, 8), "after reset: the golden answer again");

    cxr::Conversation second(*model);
    second.setImage(image);
    auto r6 = second.send(cxr::prompts::kReport, greedy(2));
    CHECK(r6.timings.visionSeconds == image->visionSeconds(), "a new conversation on the same image reuses its encoding");
  }

  // ---- a conversation restored from stored turns continues exactly like the live one
  {
    cxr::Conversation live(*model);
    live.setImage(image);
    const auto a1 = live.send(cxr::prompts::kReport, greedy(8));
    const auto a2 = live.send("Is there a pleural effusion?", greedy(6));

    cxr::Conversation reopened(*model);
    using R = cxr::Message::Role;
    const std::vector<cxr::Message> turns = {{R::User, cxr::prompts::kReport}, {R::Assistant, a1.text}};
    bool threw = false;
    try {
      reopened.restore(turns);  // the first message carries <image>: no image yet
    } catch (const cxr::ModelError& e) {
      threw = std::string(e.what()).find("setImage") != std::string::npos;
    }
    CHECK(threw && reopened.messages().size() == 1, "restore without the image is refused, conversation unchanged");
    reopened.setImage(image);
    struct BadTurns { const char* name; std::vector<cxr::Message> turns; };
    for (const BadTurns& row : {BadTurns{"assistant first", {{R::Assistant, "a"}, {R::User, "b"}}},
                                BadTurns{"two user messages", {{R::User, "a"}, {R::User, "b"}}},
                                BadTurns{"unanswered question", {{R::User, "a"}, {R::Assistant, "b"}, {R::User, "c"}}}}) {
      threw = false;
      try {
        reopened.restore(row.turns);
      } catch (const cxr::ModelError& e) {
        threw = std::string(e.what()).find("cannot restore") != std::string::npos;
      }
      CHECK(threw && reopened.messages().size() == 1, std::string(row.name) + ": restore refused, conversation unchanged");
    }
    reopened.restore(turns);
    CHECK(reopened.messages().size() == 3 && reopened.cachedPositions() == 0,
          "restored: system + two turns, nothing computed yet");
    CHECK(reopened.renderedPrompt() == live.renderedPrompt().substr(0, reopened.renderedPrompt().size()),
          "the restored conversation renders as the live one did");
    const auto b2 = reopened.send("Is there a pleural effusion?", greedy(6));
    CHECK_EQ_VEC(b2.promptIds, a2.promptIds, "restored + follow-up: the same prompt ids as the live conversation");
    CHECK_EQ_VEC(b2.tokenIds, a2.tokenIds, "restored + follow-up: the same greedy answer");
    CHECK(b2.text == a2.text, "restored + follow-up: the same text");
    CHECK(b2.timings.prefillPositions == int(a2.promptIds.size()) - 1 + 16,
          "the first send after restore prefills the whole conversation");
    const auto b3 = reopened.send("And the heart?", greedy(4));
    CHECK(b3.timings.prefillPositions < int(b3.promptIds.size()) - int(b2.promptIds.size()) + 8,
          "after that, follow-ups reuse the cache again");
  }

  // ---- the conversation puts "<image>\n" on the first user turn itself (callers pass the question)
  {
    using R = cxr::Message::Role;
    CHECK(cxr::userTurnMessage("Effusion?", true, true) == "<image>\nEffusion?", "first turn: the tag is added");
    CHECK(cxr::userTurnMessage(cxr::prompts::kReport, true, true) == cxr::prompts::kReport,
          "first turn: a stock prompt keeps its one tag");
    CHECK(cxr::userTurnMessage(cxr::prompts::kDifferential, false, true) ==
              std::string(cxr::prompts::kDifferential).substr(8),
          "later turn: a stock prompt loses its tag");
    CHECK(cxr::userTurnMessage("Effusion?", false, true) == "Effusion?", "later turn: the question as it is");
    CHECK(cxr::userTurnMessage("Effusion?", true, false) == "Effusion?", "no image: no tag");
    CHECK(cxr::turnOrderProblem({{R::System, "s"}, {R::User, "a"}, {R::Assistant, "b"}}).empty(),
          "system, user, answer: a conversation to continue");
    CHECK(cxr::turnOrderProblem({{R::User, "a"}}).find("without an answer") != std::string::npos,
          "an unanswered question is named");
    CHECK(cxr::turnOrderProblem({{R::User, "a"}, {R::User, "b"}}).find("turn 2") != std::string::npos,
          "the first turn out of order is named");

    const std::string question = "Is there a pleural effusion?";
    cxr::Conversation conv(*model);
    conv.setImage(image);
    CHECK_EQ_VEC(conv.promptIdsWith(question), conv.promptIdsWith(cxr::prompts::ask(question)),
                 "question only: the same prompt ids as the reference's ask_question");
    CHECK_EQ_VEC(conv.promptIdsWith(std::string(cxr::prompts::kReport).substr(8)), reportIds,
                 "the report prompt without its tag: the golden report prompt ids");
    conv.send(question, greedy(2));
    conv.send(cxr::prompts::kDifferential, greedy(2));
    CHECK(conv.messages()[1].content == cxr::prompts::ask(question), "the first turn holds the tag");
    CHECK(conv.messages()[3].content.find("<image>") == std::string::npos, "a follow-up never does");

    cxr::Conversation reopened(*model);
    reopened.setImage(image);
    reopened.restore({{R::User, question}, {R::Assistant, conv.messages()[2].content}});
    CHECK(reopened.messages()[1].content == cxr::prompts::ask(question),
          "a stored first question without the tag is restored with it");
  }

  // ---- sampling
  {
    cxr::SamplingParams s;
    s.temperature = 0.7f;
    s.topP = 0.9f;
    s.maxNewTokens = 8;
    s.seed = 1234;
    auto a = cxr::generateFromIds(*model, reportIds, image, s);
    auto b = cxr::generateFromIds(*model, reportIds, image, s);
    CHECK(a.seed == 1234 && a.sampling.seed == uint64_t(1234), "the given seed is reported");
    CHECK_EQ_VEC(a.tokenIds, b.tokenIds, "same seed, same tokens");
    s.seed.reset();
    auto c = cxr::generateFromIds(*model, reportIds, image, s);
    CHECK(c.sampling.seed.has_value() && *c.sampling.seed == c.seed, "a drawn seed is reported");
    s.seed = c.seed;
    auto d = cxr::generateFromIds(*model, reportIds, image, s);
    CHECK_EQ_VEC(d.tokenIds, c.tokenIds, "the reported seed reproduces the run");
    s.topK = 1;
    auto e = cxr::generateFromIds(*model, reportIds, image, s);
    CHECK_EQ_VEC(e.tokenIds, head(goldenGreedy, 8), "top-k 1 sampling = greedy");
  }

  // ---- the reference's budget rule min(512, context - len(ids) - 1)
  auto refusal = [](const std::function<void()>& call) {
    try {
      call();
    } catch (const cxr::ModelError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  {
    TempDir tmp;
    copyFolder(folder, tmp.path);
    std::string cfg = readText(tmp.path / "config.json");
    cfg.insert(cfg.rfind('}'), ", \"max_position_embeddings\": 120\n");
    writeText(tmp.path / "config.json", cfg);
    auto small = cxr::Model::load(tmp.path.string(), f32);
    CHECK(small->info().maxContext == 120, "top-level max_position_embeddings read");
    auto img = small->encodeImage(crop);
    auto r = cxr::generateFromIds(*small, reportIds, img, greedy(0));
    CHECK(r.tokenIds.size() == 120 - reportIds.size() - 1 || r.stopReason == cxr::StopReason::EndOfSequence,
          "default max new tokens = 120 - 98 - 1 = 21: got " + std::to_string(r.tokenIds.size()));

    // An explicit max new tokens beyond the room: the answer ends where the context does.
    auto capped = cxr::generateFromIds(*small, reportIds, img, greedy(100));
    CHECK(capped.tokenIds.size() <= 21 && (capped.stopReason == cxr::StopReason::ContextFull ||
                                           capped.stopReason == cxr::StopReason::EndOfSequence),
          "max new tokens 100 with room for 21: " + std::to_string(capped.tokenIds.size()) + " tokens, " +
              cxr::toString(capped.stopReason));

    // Issue 12, a prompt that fills the context: the answer used to be empty (ContextFull, exit 0).
    // Now the prompt is refused before the prefill, saying how long it is and what the context holds:
    // 104 ids (113 + 6 positions with the 16 image rows) leave 120 - 104 - 1 = 15 < 16 new tokens.
    std::vector<int32_t> longIds = reportIds;
    longIds.insert(longIds.end(), 6, 13);
    const std::string message = refusal([&] { cxr::generateFromIds(*small, longIds, img, greedy(0)); });
    CHECK(message == "The question is 119 tokens (image, system prompt and conversation so far included); the "
                     "model's context holds 134, and the answer needs room for at least 16. Shorten it or start a "
                     "new conversation.",
          "prompt that fills the context is refused: " + message);
    // One id fewer leaves exactly the minimum (16 new tokens): generated.
    longIds.pop_back();
    CHECK(refusal([&] { cxr::generateFromIds(*small, longIds, img, greedy(0)); }) == "(no error)",
          "a prompt that leaves 16 new tokens runs");

    // The same in a conversation (chat after a few turns): the turn is refused, the conversation is
    // left as it was and stays usable.
    cxr::Conversation chat(*small);
    chat.setImage(img);
    const auto first = chat.send(cxr::prompts::kReport, greedy(0));
    CHECK(chat.messages().size() == 3, "first turn answered");
    const cxr::ContextBudget budget = chat.contextBudgetWith("And the heart size?", greedy(0));
    CHECK(!budget.fits(), "the second turn does not fit: " + std::to_string(budget.promptTokens) + " of " +
                              std::to_string(budget.contextTokens));
    const std::string turn = refusal([&] { chat.send("And the heart size?", greedy(0)); });
    CHECK(turn.find("Shorten it or start a new conversation") != std::string::npos &&
              turn.find("The question is " + std::to_string(budget.promptTokens) + " tokens") != std::string::npos,
          "chat turn that fills the context is refused: " + turn);
    CHECK(chat.messages().size() == 3 && chat.messages().back().content == first.text,
          "the refused turn leaves the conversation as it was");
    chat.reset();
    const auto again = chat.send(cxr::prompts::kReport, greedy(0));
    CHECK(again.tokenIds == first.tokenIds, "after reset() the conversation answers again, the same");
  }
  // A long question (beyond the 2048 ids of spec 6.1 and the KV capacity of 4096 positions), with an
  // explicit max new tokens too: refused, not an empty answer.
  {
    std::string question;
    for (int i = 0; i < 4200; ++i) question += " lung";
    cxr::Conversation chat(*model);
    chat.setImage(image);
    const std::string message = refusal([&] { chat.send(cxr::prompts::ask(question), greedy(4)); });
    CHECK(message.find("the model's context holds 2062, and the answer needs room for at least 4.") != std::string::npos,
          "a question beyond the KV capacity is refused: " + message.substr(0, 300));
    CHECK(chat.messages().size() == 1, "nothing added to the conversation");
  }

  // ---- issue 12, sampling settings out of range (NaN, infinities, huge or negative counts) are
  // refused with the setting named, before any compute
  {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    struct Bad {
      const char* what;
      std::function<void(cxr::SamplingParams&)> set;
      std::string mentions;
    };
    const std::vector<Bad> bad = {
        {"temperature nan", [&](cxr::SamplingParams& p) { p.temperature = nan; }, "temperature nan"},
        {"temperature inf", [&](cxr::SamplingParams& p) { p.temperature = inf; }, "temperature inf"},
        {"temperature -1", [&](cxr::SamplingParams& p) { p.temperature = -1; }, "temperature -1"},
        {"temperature 50", [&](cxr::SamplingParams& p) { p.temperature = 50; }, "temperature 50"},
        {"top-p nan", [&](cxr::SamplingParams& p) { p.topP = nan; }, "top-p nan"},
        {"top-p 0", [&](cxr::SamplingParams& p) { p.topP = 0; }, "top-p 0"},
        {"top-p 1.5", [&](cxr::SamplingParams& p) { p.topP = 1.5f; }, "top-p 1.5"},
        {"top-k -3", [&](cxr::SamplingParams& p) { p.topK = -3; }, "top-k -3"},
        {"max new tokens 2147483647", [&](cxr::SamplingParams& p) { p.maxNewTokens = 2147483647; }, "max new tokens 2147483647"},
        {"max new tokens -1", [&](cxr::SamplingParams& p) { p.maxNewTokens = -1; }, "max new tokens -1"},
    };
    for (const Bad& b : bad) {
      cxr::SamplingParams p;
      p.maxNewTokens = 2;
      b.set(p);
      const std::string message = refusal([&] { cxr::generateFromIds(*model, reportIds, image, p); });
      CHECK(message.rfind("Cannot generate: " + b.mentions + " is out of range", 0) == 0,
            std::string(b.what) + " refused, naming the setting: " + message);
    }
  }

  // ---- bad requests are errors, not crashes
  {
    std::string message;
    try {
      cxr::generateFromIds(*model, {1, -200, 13, -200}, image, greedy(1));
    } catch (const cxr::ModelError& e) {
      message = e.what();
    }
    CHECK(message.find("more than one image") != std::string::npos, "two image placeholders refused: " + message);
    message.clear();
    try {
      cxr::generateFromIds(*model, {1, -200, 13}, nullptr, greedy(1));
    } catch (const cxr::ModelError& e) {
      message = e.what();
    }
    CHECK(message.find("no image was given") != std::string::npos, "missing image refused: " + message);
    message.clear();
    try {
      cxr::generateFromIds(*model, {1, 99999}, nullptr, greedy(1));
    } catch (const cxr::ModelError& e) {
      message = e.what();
    }
    CHECK(message.find("outside the vocabulary") != std::string::npos, "bad id refused: " + message);
  }

  // ---- random checkpoint (the "tiny" preset; "7b" has the same code path with bigger shapes)
  {
    TempDir tmp;
    cxr::writeRandomCheckpoint(tmp.path.string(), "tiny", "bf16", folder.string(), 7);
    CHECK(fs::exists(tmp.path / "model-00003-of-00003.safetensors") && fs::exists(tmp.path / "model.safetensors.index.json"),
          "3 shards + index written");
    auto rnd = cxr::Model::load(tmp.path.string(), {"cpu", "auto", 1});
    CHECK(rnd->info().storedDtype == "BF16" && rnd->info().dtype == "bf16", "random checkpoint is bf16: " + rnd->info().storedDtype);
    auto img = rnd->encodeImage(crop);
    auto r = cxr::generateFromIds(*rnd, reportIds, img, greedy(4));
    CHECK(r.tokenIds.size() + (r.stopReason == cxr::StopReason::EndOfSequence ? 1 : 0) >= 1, "random model generates");
    bool cancelled = false;
    try {
      cxr::writeRandomCheckpoint((tmp.path / "again").string(), "tiny", "bf16", folder.string(), 7,
                                 [](double f, const std::string&) { return f < 0.3; });
    } catch (const cxr::LoadCancelled&) {
      cancelled = true;
    }
    CHECK(cancelled, "writing a random checkpoint can be cancelled");
  }
  // F16 and F32 storage (converted once at load to the compute dtype) and bf16 -> f32 compute.
  for (const char* stored : {"f16", "f32"}) {
    TempDir tmp;
    cxr::writeRandomCheckpoint(tmp.path.string(), "tiny", stored, folder.string(), 3);
    for (const char* compute : {"f32", "bf16"}) {
      auto m = cxr::Model::load(tmp.path.string(), {"cpu", compute, 1});
      const std::string want = std::string(stored) == "f16" ? "F16" : "F32";
      CHECK(m->info().storedDtype == want && m->info().dtype == compute,
            std::string("stored ") + stored + ", compute " + compute + ": " + m->info().storedDtype + "/" + m->info().dtype);
      auto img = m->encodeImage(crop);
      auto r = cxr::generateFromIds(*m, reportIds, img, greedy(2));
      CHECK(r.stopReason != cxr::StopReason::Cancelled && r.timings.prefillPositions == 113,
            std::string("stored ") + stored + ", compute " + compute + " generates");
    }
  }
  return check::finish("test_engine_behaviour");
}
