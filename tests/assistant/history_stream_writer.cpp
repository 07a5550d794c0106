// Test helper for test_history: streams an answer into a history database chunk by chunk, printing
// "committed <n>" after the n-th chunk is committed, until it is killed. Usage:
//   history_stream_writer DB_PATH CHUNK_DELAY_MS
#include "cxr/assistant/history.h"

#include <QCoreApplication>
#include <QThread>
#include <cstdio>

using namespace cxr::assistant;

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: history_stream_writer DB_PATH CHUNK_DELAY_MS\n");
    return 2;
  }
  HistoryStore store(QString::fromLocal8Bit(argv[1]));
  if (!store.isOpen()) {
    std::fprintf(stderr, "%s\n", qPrintable(store.errorString()));
    return 1;
  }
  const int delay = QString::fromLocal8Bit(argv[2]).toInt();
  const qint64 conv = store.createConversation(QStringLiteral("killed mid-answer"),
                                               {QStringLiteral("/data/cxr/ünïcode image.png"), QString(64, u'a'), {}},
                                               {QStringLiteral("/models/fake"), {}, {}, QStringLiteral("cpu"), QStringLiteral("bf16")});
  store.addUserMessage(conv, QStringLiteral("Write a report"), QStringLiteral("<image>\nWrite a report"));
  StreamingRecorder recorder(store);
  recorder.begin(conv, SamplingSettings{});
  std::printf("conversation %lld\n", static_cast<long long>(conv));
  std::fflush(stdout);
  for (int n = 1;; ++n) {
    recorder.append(QStringLiteral("chunk%1 ").arg(n));
    std::printf("committed %d\n", n);
    std::fflush(stdout);
    QThread::msleep(static_cast<unsigned long>(delay));
  }
}
