// Runs Smack's Integration Test Framework as its own main class does, then writes every test's
// outcome as JSON for conformance/run.ts: passed, failed, impossible (and why), disabled, or not
// run (when the framework aborted part way). Two things the framework's properties cannot say
// are set here: the server's port (sinttest knows only a host) and the output file.
//
//   java -Dsinttest.service=localhost -Dsinttest.host=127.0.0.1 -Dxmppd.port=5322 \
//        -Dxmppd.results=out.json dev.xmppd.conformance.Runner
package dev.xmppd.conformance;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Security;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.igniterealtime.smack.inttest.AbstractSmackIntTest;
import org.igniterealtime.smack.inttest.AbstractSmackIntegrationTest;
import org.igniterealtime.smack.inttest.AbstractSmackLowLevelIntegrationTest;
import org.igniterealtime.smack.inttest.Configuration;
import org.igniterealtime.smack.inttest.ConnectionConfigurationBuilderApplier;
import org.igniterealtime.smack.inttest.FailedTest;
import org.igniterealtime.smack.inttest.SmackIntegrationTestFramework;
import org.igniterealtime.smack.inttest.SuccessfulTest;
import org.igniterealtime.smack.inttest.TestNotPossible;
import org.igniterealtime.smack.inttest.annotations.SmackIntegrationTest;
import org.igniterealtime.smack.inttest.annotations.SpecificationReference;
import org.jivesoftware.smack.ConnectionConfiguration.SecurityMode;
import org.jivesoftware.smack.Smack;
import org.jivesoftware.smackx.iqregister.AccountManager;
import org.jivesoftware.smackx.omemo.signal.SignalOmemoService;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.reflections.Reflections;

public final class Runner {

    /** The framework, opened up to read its results after an abort too. */
    private static final class Framework extends SmackIntegrationTestFramework {
        Framework(Configuration configuration) {
            super(configuration);
        }

        TestRunResult result() {
            return testRunResult;
        }
    }

    private Runner() {
    }

    public static void main(String[] args) throws Exception {
        String disabledMethods = System.getProperty("xmppd.disabledMethods");
        if (disabledMethods != null && System.getProperty("sinttest.enabledTests") == null) {
            System.setProperty("sinttest.enabledTests", enabledAllBut(Set.of(disabledMethods.split(","))));
        }
        Configuration config = Configuration.newConfiguration(args);
        String port = System.getProperty("xmppd.port");
        if (port != null) {
            withPort(config, Integer.parseInt(port));
        }
        if (config.securityMode != SecurityMode.required) {
            // sinttest 4.5.0-beta5 makes its registration connection's AccountManager before it sets
            // this default, so in-band registration without TLS is refused on the client side.
            // Fixed upstream by "Create the XmppConnectionManager after we did SmackConfiguration"
            // (Smack commit 0631706f4); remove with the release that has it.
            AccountManager.sensitiveOperationOverInsecureConnectionDefault(true);
        }
        // sinttest's OMEMO tests are impossible without a registered OmemoService.
        // Smack 4.5.0-beta5 inits AES/GCM with an IvParameterSpec (OmemoAesCipher), which the JDK's
        // provider refuses (it wants a GCMParameterSpec); Cipher then tries the next provider, so
        // Bouncy Castle (on sinttest's classpath already) goes last, leaving TLS and the rest to the JDK.
        Security.addProvider(new BouncyCastleProvider());
        SignalOmemoService.acknowledgeLicense();
        SignalOmemoService.setup();
        Framework runner = new Framework(config);
        String aborted = null;
        try {
            runner.run();
        } catch (Throwable t) {
            aborted = stackTrace(t);
            t.printStackTrace();
        }
        Results out = new Results(runner.result(), aborted);
        Files.writeString(Path.of(System.getProperty("xmppd.results", "sinttest-results.json")), out.toJson(),
                StandardCharsets.UTF_8);
        // The framework's own exit code: 0 when every test that ran passed.
        System.exit(aborted != null ? 3 : runner.result().getFailedTests().isEmpty() ? 0 : 2);
    }

    /**
     * Every test but some methods, as sinttest.enabledTests: classes whole, and the classes with a
     * left-out method as their other methods. (sinttest 4.5.0-beta5's disabledTests cannot leave
     * out one method: Configuration.isClassDisabled is true for a class any of whose methods is
     * listed, so the whole class goes.)
     */
    private static String enabledAllBut(Set<String> methods) {
        List<String> out = new ArrayList<>();
        for (Class<?> c : Results.allTestClasses()) {
            List<String> kept = new ArrayList<>();
            boolean partial = false;
            for (Method m : Results.testMethods(c)) {
                if (methods.contains(c.getName() + "." + m.getName())) {
                    partial = true;
                } else {
                    kept.add(c.getName() + "." + m.getName());
                }
            }
            if (!partial) {
                out.add(c.getName());
            } else {
                out.addAll(kept);
            }
        }
        return String.join(",", out);
    }

    /** sinttest sets host but not port on every connection it builds; add the port to the same step. */
    private static void withPort(Configuration config, int port) throws ReflectiveOperationException {
        Field f = Configuration.class.getField("configurationApplier");
        f.setAccessible(true);
        ConnectionConfigurationBuilderApplier inner = config.configurationApplier;
        ConnectionConfigurationBuilderApplier withPort = b -> {
            inner.applyConfigurationTo(b);
            b.setPort(port);
        };
        f.set(config, withPort);
    }

    private static String stackTrace(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }

    /** The outcome of every test found, keyed by "Class.method" (plus "[connection]" for low-level tests). */
    static final class Results {
        private final Map<String, Map<String, Object>> tests = new TreeMap<>();
        private final String aborted;
        private final String testRunId;

        Results(SmackIntegrationTestFramework.TestRunResult r, String aborted) throws IOException {
            this.aborted = aborted;
            this.testRunId = r == null ? "" : r.getTestRunId();
            if (r != null) {
                for (SuccessfulTest t : r.getSuccessfulTests()) {
                    put(t.concreteTest, "passed", null, t.duration);
                }
                for (FailedTest t : r.getFailedTests()) {
                    put(t.concreteTest, "failed", String.valueOf(t.failureReason), t.duration);
                }
                for (TestNotPossible t : r.getNotPossibleTests()) {
                    put(t.concreteTest, "impossible", t.testNotPossibleException.getMessage(), t.duration);
                }
                for (Map.Entry<Class<? extends AbstractSmackIntTest>, Throwable> e : r.getImpossibleTestClasses().entrySet()) {
                    for (Method m : testMethods(e.getKey())) {
                        putIfAbsent(m, "", "impossible", String.valueOf(e.getValue().getMessage()));
                    }
                }
                disabled(r);
            }
            // Everything the framework would have found, so that an aborted run shows what it did not reach.
            for (Class<?> c : allTestClasses()) {
                for (Method m : testMethods(c)) {
                    if (!known(m)) {
                        putIfAbsent(m, "", "not-run", aborted == null ? "not selected" : "the run aborted first");
                    }
                }
            }
        }

        /** The framework keeps disabled tests in private lists without getters. */
        private void disabled(SmackIntegrationTestFramework.TestRunResult r) {
            try {
                for (Object d : (List<?>) field(r, "disabledTestClasses")) {
                    Class<?> c = (Class<?>) d.getClass().getMethod("getTestClass").invoke(d);
                    String reason = (String) d.getClass().getMethod("getReason").invoke(d);
                    for (Method m : testMethods(c)) {
                        putIfAbsent(m, "", "disabled", reason);
                    }
                }
                for (Object d : (List<?>) field(r, "disabledTests")) {
                    Method m = (Method) d.getClass().getMethod("getMethod").invoke(d);
                    String reason = (String) d.getClass().getMethod("getReason").invoke(d);
                    String connection = "";
                    int i = reason.indexOf("connection '");
                    if (i >= 0) {
                        int start = i + "connection '".length();
                        int end = reason.indexOf('\'', start);
                        connection = end < 0 ? reason.substring(start).replaceAll("[,.].*", "") : reason.substring(start, end);
                    }
                    putIfAbsent(m, connection, "disabled", reason);
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read the disabled tests of this sinttest version", e);
            }
        }

        private static Object field(Object o, String name) throws ReflectiveOperationException {
            Field f = o.getClass().getDeclaredField(name);
            f.setAccessible(true);
            return f.get(o);
        }

        private boolean known(Method m) {
            String prefix = m.getDeclaringClass().getSimpleName() + "." + m.getName();
            for (String k : tests.keySet()) {
                if (k.equals(prefix) || k.startsWith(prefix + "[")) {
                    return true;
                }
            }
            return false;
        }

        private void put(SmackIntegrationTestFramework.ConcreteTest t, String result, String reason, long ms) {
            List<String> subs = t.getSubdescriptons();
            String connection = subs.isEmpty() ? "" : String.join(",", subs);
            Map<String, Object> entry = entry(t.getMethod(), connection, result, reason);
            entry.put("ms", ms);
            tests.put(key(t.getMethod(), connection), entry);
        }

        private void putIfAbsent(Method m, String connection, String result, String reason) {
            tests.putIfAbsent(key(m, connection), entry(m, connection, result, reason));
        }

        private static String key(Method m, String connection) {
            String k = m.getDeclaringClass().getSimpleName() + "." + m.getName();
            return connection.isEmpty() ? k : k + "[" + connection + "]";
        }

        private static Map<String, Object> entry(Method m, String connection, String result, String reason) {
            Map<String, Object> e = new LinkedHashMap<>();
            Class<?> c = m.getDeclaringClass();
            e.put("class", c.getName());
            e.put("method", m.getName());
            if (!connection.isEmpty()) {
                e.put("connection", connection);
            }
            SpecificationReference spec = c.getAnnotation(SpecificationReference.class);
            if (spec != null) {
                e.put("spec", spec.document());
                e.put("specVersion", spec.version());
            }
            SmackIntegrationTest a = m.getAnnotation(SmackIntegrationTest.class);
            if (a != null && !a.section().isBlank()) {
                e.put("section", a.section());
            }
            e.put("result", result);
            if (reason != null) {
                e.put("reason", reason);
            }
            return e;
        }

        private static List<Method> testMethods(Class<?> c) {
            List<Method> out = new ArrayList<>();
            for (Method m : c.getMethods()) {
                if (m.isAnnotationPresent(SmackIntegrationTest.class)) {
                    out.add(m);
                }
            }
            return out;
        }

        private static List<Class<?>> allTestClasses() {
            Reflections reflections = new Reflections(new Object[] { "org.jivesoftware.smackx", "org.jivesoftware.smack",
                    "org.igniterealtime.smackx", "org.igniterealtime.smack" });
            List<Class<?>> out = new ArrayList<>();
            Set<Class<? extends AbstractSmackIntegrationTest>> normal = reflections.getSubTypesOf(AbstractSmackIntegrationTest.class);
            Set<Class<? extends AbstractSmackLowLevelIntegrationTest>> low = reflections.getSubTypesOf(AbstractSmackLowLevelIntegrationTest.class);
            for (Class<?> c : normal) {
                if (!Modifier.isAbstract(c.getModifiers())) {
                    out.add(c);
                }
            }
            for (Class<?> c : low) {
                if (!Modifier.isAbstract(c.getModifiers())) {
                    out.add(c);
                }
            }
            return out;
        }

        String toJson() {
            StringBuilder sb = new StringBuilder();
            sb.append("{\n  \"smackVersion\": ").append(quote(Smack.getVersion()));
            sb.append(",\n  \"testRunId\": ").append(quote(testRunId));
            sb.append(",\n  \"aborted\": ").append(aborted == null ? "null" : quote(aborted));
            sb.append(",\n  \"tests\": {");
            boolean first = true;
            for (Map.Entry<String, Map<String, Object>> t : tests.entrySet()) {
                sb.append(first ? "\n    " : ",\n    ").append(quote(t.getKey())).append(": {");
                first = false;
                boolean firstField = true;
                for (Map.Entry<String, Object> f : t.getValue().entrySet()) {
                    if (!firstField) {
                        sb.append(", ");
                    }
                    firstField = false;
                    Object v = f.getValue();
                    sb.append(quote(f.getKey())).append(": ").append(v instanceof Number ? v.toString() : quote(String.valueOf(v)));
                }
                sb.append('}');
            }
            return sb.append("\n  }\n}\n").toString();
        }

        private static String quote(String s) {
            StringBuilder sb = new StringBuilder("\"");
            for (char ch : s.toCharArray()) {
                switch (ch) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
            return sb.append('"').toString();
        }
    }
}
