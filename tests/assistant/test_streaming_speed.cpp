// How fast the chat panel shows a streamed answer, against the scripted run without a window
// (BatchRun, what `cxr-assistant --run ... --quit-when-done` drives), with the tiny golden
// checkpoint from ../shared/data (skips without it). Issue 11: the panel once rebuilt the whole
// conversation per token, so the window fell behind the engine as the answer grew; it must now
// show the answer at least 80 % as fast as the run without a window, measured in the same minute.
//
// Rate = tokens / (time the GUI thread handled the last token's end - time it handled the first
// token): the worker never waits for the GUI (its signals are queued), so a slow view shows up as
// this time stretching, not as a slower engine. Runs alternate (window-less, window, ...) and the
// best of each is compared, so that another process's burst does not decide the outcome.
//
// The figure (the window's rate as a share of the run without one, issue 11's target: 80 %) is
// printed with both rates and the load average, for docs/performance.md. What is asserted is a
// generous bound only (30 % of the rate): on a shared machine a neighbour's burst can cost a round
// 20 %, and a test that load can break says nothing. On a quiet machine the tiny model decodes at
// ~1,100 tokens/s and the window, which updates the document at most every 33 ms, reaches 81-98 %
// (docs/performance.md); a per-token re-render of the conversation lands far below the bound.
#include "support/golden_data.h"
#include "cxr/assistant/batch_run.h"
#include "cxr/assistant/chat_panel.h"
#include "cxr/assistant/model_backend.h"

#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QTest>
#include <QTextBrowser>

#include <cstdio>
#include <fstream>
#include <string>

using namespace cxr::assistant;

namespace {

using golden::checkpoint;
using golden::imagePath;
using golden::sharedData;

LoadSettings f32() {
  LoadSettings s;
  s.dtype = QStringLiteral("f32");
  s.threads = 1;
  return s;
}

SamplingSettings greedy(int tokens) {
  SamplingSettings s = SamplingSettings::deterministic();
  s.maxNewTokens = tokens;
  return s;
}

ModelImageSource source() {
  ModelImageSource src;
  src.defaultWindow = QImage(imagePath()).convertToFormat(QImage::Format_Grayscale8);
  src.defaultWindowText = QStringLiteral("file default");
  src.filePath = imagePath();
  src.sha256 = QString(64, u'c');
  return src;
}

struct Rate {
  int tokens = 0;
  double seconds = 0;
  double perSecond() const { return seconds > 0 ? tokens / seconds : 0; }
};

// The clock between the first chunk and the end, as the GUI thread sees them.
struct StreamClock {
  QElapsedTimer clock;
  qint64 first = -1, last = -1;
  int chunks = 0;
  void chunk() {
    if (first < 0) first = clock.elapsed();
    ++chunks;
  }
  void end() { last = clock.elapsed(); }
  Rate rate(int tokens) const { return {tokens, (last - first) / 1000.0}; }
};

// The 1, 5 and 15 minute load averages, to print beside a timing ("?" where /proc is missing).
std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  return in >> one >> five >> fifteen ? one + " " + five + " " + fifteen : std::string("?");
}

constexpr int kRounds = 3;
constexpr double kGenerousBound = 0.3;  // see the file comment; the target is 0.8
constexpr int kTokens = 256;  // half a report: long enough for a per-token rebuild to show

Rate windowless() {
  AssistantEngine engine(createModelBackend());
  BatchOptions options;
  options.modelFolder = checkpoint();
  options.load = f32();
  options.request = {RequestKind::Report, {}};
  options.sampling = greedy(kTokens);
  BatchRun run(engine, source(), options);
  StreamClock clock;
  clock.clock.start();
  int tokens = 0;
  bool done = false;
  QObject::connect(&run, &BatchRun::textStreamed, &run, [&](const QString&) { clock.chunk(); });
  QObject::connect(&engine, &AssistantEngine::answerFinished, &run,
                   [&](const AnswerResult& r) { tokens = r.timings.decodeTokens; });
  QObject::connect(&run, &BatchRun::finished, &run, [&](int) {
    clock.end();
    done = true;
  });
  run.start();
  if (!QTest::qWaitFor([&] { return done; }, 120000)) return {};
  return clock.rate(tokens);
}

Rate inTheWindow() {
  AssistantEngine engine(createModelBackend());
  ChatPanel panel(engine, nullptr);
  panel.resize(560, 820);
  panel.show();
  panel.setSamplingSettings(greedy(kTokens));
  panel.loadModel(checkpoint(), f32());
  panel.setImageSource(source());
  if (!QTest::qWaitFor([&] { return engine.isModelLoaded() && !engine.isBusy(); }, 60000)) return {};
  StreamClock clock;
  clock.clock.start();
  int tokens = 0;
  bool done = false;
  // Connected after the panel: these run once the panel has shown the chunk.
  QObject::connect(&panel.session(), &ChatSession::chunkAppended, &panel, [&](const QString&) { clock.chunk(); });
  QObject::connect(&panel, &ChatPanel::answerFinished, &panel, [&](const AnswerResult& r) {
    clock.end();
    tokens = r.timings.decodeTokens;
    done = true;
  });
  panel.writeReport();
  if (!QTest::qWaitFor([&] { return done; }, 120000)) return {};
  // The window showed the whole answer.
  if (!panel.findChild<QTextBrowser*>(QStringLiteral("messages"))->toPlainText().contains(
          panel.transcript().entries().last().text.left(40)))
    return {};
  return clock.rate(tokens);
}

}  // namespace

class TestStreamingSpeed : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void windowKeepsUpWithTheRunWithoutAWindow() {
    if (!QFile::exists(checkpoint() + QStringLiteral("/config.json")) || !QFile::exists(imagePath()))
      QSKIP(qPrintable(QStringLiteral("no tiny golden checkpoint under ") + sharedData()));
    Rate bestWindowless, bestWindow;
    for (int round = 0; round < kRounds; ++round) {
      const Rate a = windowless();
      const Rate b = inTheWindow();
      QVERIFY2(a.tokens > 0 && b.tokens > 0, "a run did not finish");
      std::printf("round %d: without a window %d tokens in %.3f s = %.0f tokens/s; in the window %d tokens in "
                  "%.3f s = %.0f tokens/s\n",
                  round + 1, a.tokens, a.seconds, a.perSecond(), b.tokens, b.seconds, b.perSecond());
      if (a.perSecond() > bestWindowless.perSecond()) bestWindowless = a;
      if (b.perSecond() > bestWindow.perSecond()) bestWindow = b;
    }
    const double ratio = bestWindow.perSecond() / bestWindowless.perSecond();
    std::printf("best: without a window %.0f tokens/s, in the window %.0f tokens/s\n"
                "STREAMING FIGURE: the window streams at %.0f %% of the run without one (target 80 %%); "
                "load average %s\n",
                bestWindowless.perSecond(), bestWindow.perSecond(), 100 * ratio, loadAverage().c_str());
    std::fflush(stdout);
    QVERIFY2(bestWindow.tokens >= 200, "the tiny model should write a long answer (the case where rebuilding hurt)");
    QVERIFY2(ratio >= kGenerousBound,
             qPrintable(QStringLiteral("the window streams at %1 % of the run without one").arg(100 * ratio, 0, 'f', 0)));
  }
};

QTEST_MAIN(TestStreamingSpeed)
#include "test_streaming_speed.moc"
