// cxr-assistant's command line: each accepted form and each mistake, as rows.
#include "command_line.h"

#include <QTest>

using cxr::app::CommandLine;
using cxr::app::CommandLineOptions;

Q_DECLARE_METATYPE(cxr::app::CommandLineOptions::Mode)

class TestAppCommandLine : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void parse_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<CommandLineOptions::Mode>("mode");
    QTest::addColumn<QString>("file");       // GUI file, or render input
    QTest::addColumn<QString>("output");     // render output
    QTest::addColumn<int>("frame");
    QTest::addColumn<QString>("window");     // "C,W" or empty
    QTest::addColumn<QString>("error");      // part of the expected error, empty when ok
    using M = CommandLineOptions::Mode;
    const QString none;
    QTest::newRow("no arguments: empty window") << QStringList{} << M::Gui << none << none << 0 << none << none;
    QTest::newRow("open a file") << QStringList{QStringLiteral("chest.dcm")} << M::Gui << QStringLiteral("chest.dcm") << none << 0 << none << none;
    QTest::newRow("two files") << QStringList{QStringLiteral("a.png"), QStringLiteral("b.png")} << M::Gui << none << none << 0 << none << QStringLiteral("at most one file");
    QTest::newRow("render") << QStringList{QStringLiteral("--render"), QStringLiteral("in.dcm"), QStringLiteral("out.png")}
                            << M::Render << QStringLiteral("in.dcm") << QStringLiteral("out.png") << 0 << none << none;
    QTest::newRow("render, options first") << QStringList{QStringLiteral("--frame"), QStringLiteral("3"), QStringLiteral("--window"), QStringLiteral("-600,1500"),
                                                          QStringLiteral("--render"), QStringLiteral("in.dcm"), QStringLiteral("out.png")}
                                           << M::Render << QStringLiteral("in.dcm") << QStringLiteral("out.png") << 3 << QStringLiteral("-600,1500") << none;
    QTest::newRow("render, fractional window") << QStringList{QStringLiteral("--render"), QStringLiteral("in.png"), QStringLiteral("o.png"), QStringLiteral("--window=127.5, 255")}
                                               << M::Render << QStringLiteral("in.png") << QStringLiteral("o.png") << 0 << QStringLiteral("127.5,255") << none;
    QTest::newRow("render without output") << QStringList{QStringLiteral("--render"), QStringLiteral("in.dcm")} << M::Gui << none << none << 0 << none << QStringLiteral("IN and OUT.png");
    QTest::newRow("render, negative frame") << QStringList{QStringLiteral("--render"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("--frame"), QStringLiteral("-1")}
                                            << M::Gui << none << none << 0 << none << QStringLiteral("--frame");
    QTest::newRow("render, frame not a number") << QStringList{QStringLiteral("--render"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("--frame"), QStringLiteral("two")}
                                                << M::Gui << none << none << 0 << none << QStringLiteral("--frame");
    QTest::newRow("render, window missing width") << QStringList{QStringLiteral("--render"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("--window"), QStringLiteral("40")}
                                                  << M::Gui << none << none << 0 << none << QStringLiteral("CENTER,WIDTH");
    QTest::newRow("render, zero width") << QStringList{QStringLiteral("--render"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("--window"), QStringLiteral("40,0")}
                                        << M::Gui << none << none << 0 << none << QStringLiteral("positive");
    QTest::newRow("window without render") << QStringList{QStringLiteral("--window"), QStringLiteral("40,400"), QStringLiteral("x.png")}
                                           << M::Gui << none << none << 0 << none << QStringLiteral("only used with --render");
    QTest::newRow("unknown option") << QStringList{QStringLiteral("--bogus")} << M::Gui << none << none << 0 << none << QStringLiteral("bogus");
    QTest::newRow("help") << QStringList{QStringLiteral("--help")} << M::Help << none << none << 0 << none << none;
    QTest::newRow("version") << QStringList{QStringLiteral("-v")} << M::Version << none << none << 0 << none << none;
  }
  void parse() {
    QFETCH(QStringList, args);
    QFETCH(CommandLineOptions::Mode, mode);
    QFETCH(QString, file);
    QFETCH(QString, output);
    QFETCH(int, frame);
    QFETCH(QString, window);
    QFETCH(QString, error);
    CommandLine cl;
    const auto result = cl.parse(QStringList{QStringLiteral("cxr-assistant")} + args);
    if (!error.isEmpty()) {
      QVERIFY2(!result.ok(), "a mistake was accepted");
      QVERIFY2(result.error.contains(error), qPrintable(result.error));
      return;
    }
    QVERIFY2(result.ok(), qPrintable(result.error));
    QCOMPARE(result.options.mode, mode);
    if (mode == CommandLineOptions::Mode::Render) {
      QVERIFY(result.options.render.has_value());
      QCOMPARE(result.options.render->input, file);
      QCOMPARE(result.options.render->output, output);
      QCOMPARE(result.options.render->frame, frame);
      QCOMPARE(result.options.render->window.has_value(), !window.isEmpty());
      if (!window.isEmpty()) {
        const QStringList cw = window.split(u',');
        QCOMPARE(result.options.render->window->center, cw[0].toDouble());
        QCOMPARE(result.options.render->window->width, cw[1].toDouble());
      }
    } else if (mode == CommandLineOptions::Mode::Gui) {
      QCOMPARE(result.options.fileToOpen, file);
    }
  }

  // The pixel budget for one run, in every mode (issue 12).
  void pixelBudgetOptions() {
    CommandLine cl;
    auto parsed = cl.parse({QStringLiteral("cxr-assistant"), QStringLiteral("--max-image-megapixels"), QStringLiteral("80"),
                            QStringLiteral("--render"), QStringLiteral("in.dcm"), QStringLiteral("out.png")});
    QVERIFY2(parsed.ok(), qPrintable(parsed.error));
    QCOMPARE(parsed.options.maxImageMegapixels.value_or(0), 80.0);
    QVERIFY(!parsed.options.maxFileMegapixels);
    parsed = cl.parse({QStringLiteral("cxr-assistant"), QStringLiteral("--max-file-megapixels"), QStringLiteral("900"), QStringLiteral("x.png")});
    QVERIFY2(parsed.ok(), qPrintable(parsed.error));
    QCOMPARE(parsed.options.maxFileMegapixels.value_or(0), 900.0);
    for (const char* bad : {"nan", "0", "-5", "lots"}) {
      parsed = cl.parse({QStringLiteral("cxr-assistant"), QStringLiteral("--max-image-megapixels"), QString::fromLatin1(bad)});
      QVERIFY2(!parsed.ok() && parsed.error.contains(u"--max-image-megapixels"), bad);
    }
  }

  // --open/--run and friends. --quit-when-done selects the headless batch; without it the window
  // runs the request.
  void parseRun_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<CommandLineOptions::Mode>("mode");
    QTest::addColumn<QString>("image");
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("spec");
    QTest::addColumn<QString>("pdf");
    QTest::addColumn<QString>("txt");
    QTest::addColumn<qlonglong>("seed");         // -1: none
    QTest::addColumn<double>("temperature");     // -1: none
    QTest::addColumn<QString>("error");          // part of the expected error, empty when ok
    using M = CommandLineOptions::Mode;
    const QString none;
    auto S = [](const char* s) { return QString::fromUtf8(s); };
    auto args = [](std::initializer_list<const char*> list) {
      QStringList out;
      for (const char* a : list)
        out << QString::fromUtf8(a);
      return out;
    };
#ifdef CXR_APP_WITH_ASSISTANT
    QTest::newRow("batch report, all options")
        << args({"--open", "cxr.png", "--model", "/m", "--run", "report", "--export-pdf", "o.pdf",
                 "--export-txt", "o.txt", "--seed", "7", "--temperature", "0", "--quit-when-done"})
        << M::Batch << S("cxr.png") << S("/m") << S("report") << S("o.pdf") << S("o.txt") << 7LL << 0.0 << none;
    QTest::newRow("batch differential, discovered model")
        << args({"--open", "cxr.dcm", "--run", "differential", "--quit-when-done"})
        << M::Batch << S("cxr.dcm") << none << S("differential") << none << none << -1LL << -1.0 << none;
    QTest::newRow("batch question with spaces and colon")
        << args({"--open", "a.png", "--run", "ask:Is there an effusion: left or right?", "--quit-when-done"})
        << M::Batch << S("a.png") << none << S("ask:Is there an effusion: left or right?") << none << none << -1LL << -1.0 << none;
    QTest::newRow("run in the window (no --quit-when-done)")
        << args({"--open", "a.png", "--run", "report", "--temperature", "0.7"})
        << M::Gui << S("a.png") << none << S("report") << none << none << -1LL << 0.7 << none;
    QTest::newRow("positional image with --run")
        << args({"a.png", "--run", "report", "--quit-when-done"})
        << M::Batch << S("a.png") << none << S("report") << none << none << -1LL << -1.0 << none;
    QTest::newRow("--open alone opens the window")
        << args({"--open", "a.png"}) << M::Gui << S("a.png") << none << none << none << none << -1LL << -1.0 << none;
    QTest::newRow("unknown run") << args({"--open", "a.png", "--run", "summary", "--quit-when-done"})
                                 << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("report, differential or ask:QUESTION");
    QTest::newRow("empty question") << args({"--open", "a.png", "--run", "ask:  ", "--quit-when-done"})
                                    << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("ask:QUESTION");
    QTest::newRow("run without an image") << args({"--run", "report", "--quit-when-done"})
                                          << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--open IMG");
    QTest::newRow("image twice") << args({"b.png", "--open", "a.png", "--run", "report"})
                                 << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("not both");
    QTest::newRow("seed not a number") << args({"--open", "a.png", "--run", "report", "--seed", "x"})
                                       << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--seed");
    QTest::newRow("negative seed") << args({"--open", "a.png", "--run", "report", "--seed", "-3"})
                                   << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--seed");
    QTest::newRow("negative temperature") << args({"--open", "a.png", "--run", "report", "--temperature", "-1"})
                                          << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--temperature");
    // Issue 12: NaN and infinity passed the range check (NaN compares false both ways).
    QTest::newRow("temperature nan") << args({"--open", "a.png", "--run", "report", "--temperature", "nan"})
                                     << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--temperature must be a number from 0 (greedy) to 5 (got \"nan\")");
    QTest::newRow("temperature inf") << args({"--open", "a.png", "--run", "report", "--temperature", "inf"})
                                     << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("(got \"inf\")");
    QTest::newRow("seed in hex") << args({"--open", "a.png", "--run", "report", "--seed", "0x10"})
                                 << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--seed must be a whole number from 0 to 18446744073709551615");
    QTest::newRow("seed beyond 64 bits") << args({"--open", "a.png", "--run", "report", "--seed", "18446744073709551616"})
                                         << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--seed");
    // Issue 12: an existing folder as the export wrote nothing and said nothing; one file for two
    // formats kept one silently. Both are refused before anything runs.
    QTest::newRow("export into an existing folder")
        << args({"--open", "a.png", "--run", "report", "--export-pdf", "/tmp", "--quit-when-done"})
        << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--export-pdf /tmp is a folder; give a file name, e.g. /tmp/report.pdf");
    QTest::newRow("one file for two formats")
        << args({"--open", "a.png", "--run", "report", "--export-pdf", "o.out", "--export-txt", "./o.out", "--quit-when-done"})
        << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--export-pdf and --export-txt both name ./o.out");
    QTest::newRow("export into a missing folder")
        << args({"--open", "a.png", "--run", "report", "--export-md", "/nonexistent/dir/o.md"})
        << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("the folder /nonexistent/dir does not exist");
    QTest::newRow("screenshot with quit-when-done")
        << args({"--open", "a.png", "--run", "report", "--quit-when-done", "--screenshot", "s.png"})
        << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("--screenshot");
    QTest::newRow("run with render") << args({"--render", "a.png", "b.png", "--run", "report"})
                                     << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("cannot be used with --render");
#else
    QTest::newRow("run in a viewer-only build") << args({"--open", "a.png", "--run", "report", "--quit-when-done"})
                                                << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("CXR_BUILD_ASSISTANT=ON");
#endif
    QTest::newRow("export without run") << args({"a.png", "--export-pdf", "o.pdf"})
                                        << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("only used with --run");
    QTest::newRow("model without run") << args({"--model", "/m"})
                                       << M::Gui << none << none << none << none << none << -1LL << -1.0 << S("only used with --run");
  }
  void parseRun() {
    QFETCH(QStringList, args);
    QFETCH(CommandLineOptions::Mode, mode);
    QFETCH(QString, image);
    QFETCH(QString, model);
    QFETCH(QString, spec);
    QFETCH(QString, pdf);
    QFETCH(QString, txt);
    QFETCH(qlonglong, seed);
    QFETCH(double, temperature);
    QFETCH(QString, error);
    CommandLine cl;
    const auto result = cl.parse(QStringList{QStringLiteral("cxr-assistant")} + args);
    if (!error.isEmpty()) {
      QVERIFY2(!result.ok(), "a mistake was accepted");
      QVERIFY2(result.error.contains(error), qPrintable(result.error));
      return;
    }
    QVERIFY2(result.ok(), qPrintable(result.error));
    QCOMPARE(result.options.mode, mode);
    QCOMPARE(result.options.fileToOpen, image);
    QCOMPARE(result.options.run.has_value(), !spec.isEmpty());
    if (spec.isEmpty())
      return;
    const cxr::app::AssistantRun& run = *result.options.run;
    QCOMPARE(run.image, image);
    QCOMPARE(run.modelFolder, model);
    QCOMPARE(run.runSpec, spec);
    QCOMPARE(run.exportPdf, pdf);
    QCOMPARE(run.exportTxt, txt);
    QCOMPARE(run.seed.has_value(), seed >= 0);
    if (seed >= 0)
      QCOMPARE(qlonglong(*run.seed), seed);
    QCOMPARE(run.temperature.has_value(), temperature >= 0);
    if (temperature >= 0)
      QCOMPARE(*run.temperature, temperature);
  }

  void helpNamesTheProgram() {
    CommandLine cl;
    QVERIFY(cl.helpText().contains(u"cxr-assistant"));
    QVERIFY(cl.helpText().contains(u"--render"));
    QVERIFY(cl.helpText().contains(u"--run"));
    QVERIFY(cl.helpText().contains(u"--quit-when-done"));
    QVERIFY(!cl.helpText().contains(u"--screenshot"));  // debug option stays hidden
  }
};

QTEST_APPLESS_MAIN(TestAppCommandLine)
#include "test_app_command_line.moc"
