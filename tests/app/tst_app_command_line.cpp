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

  void helpNamesTheProgram() {
    CommandLine cl;
    QVERIFY(cl.helpText().contains(u"cxr-assistant"));
    QVERIFY(cl.helpText().contains(u"--render"));
    QVERIFY(!cl.helpText().contains(u"--screenshot"));  // debug option stays hidden
  }
};

QTEST_APPLESS_MAIN(TestAppCommandLine)
#include "tst_app_command_line.moc"
