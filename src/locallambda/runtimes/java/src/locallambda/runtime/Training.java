package locallambda.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training run of the runtime, used only to build a class-data-sharing archive of it:
 * {@code java -XX:ArchiveClassesAtExit=bootstrap.jsa -cp bootstrap.jar locallambda.runtime.Training}.
 *
 * <p>It serves a scripted Runtime API on a loopback port from a thread, and runs the real runtime loop
 * against it with a POJO handler, a stream handler and a method handler (successes and errors), so the
 * archive holds the classes that a real start and the first invocations load. It writes some lines to
 * standard output and exits with status 0.</p>
 */
public final class Training {

    private Training() {
    }

    /** Entry point of the training run; takes no arguments. */
    public static void main(String[] args) throws Exception {
        ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread server = new Thread(() -> serve(ss), "training-runtime-api");
        server.setDaemon(true);
        server.start();

        ClassLoader loader = Bootstrap.customerClassLoader(null);
        try {
            Handlers.load("locallambda.runtime.NoSuchHandlerClass", loader);
        } catch (Handlers.InitFault f) {
            System.out.print(f.reportable());
        }
        RuntimeApiClient client = new RuntimeApiClient("127.0.0.1:" + ss.getLocalPort());
        Bootstrap.Env env = new Bootstrap.Env();
        String[] handlers = {
            "locallambda.runtime.Training$PojoHandler",
            "locallambda.runtime.Training$StreamHandler",
            "locallambda.runtime.Training$Methods::handle",
        };
        for (String h : handlers) {
            Bootstrap.runLoop(client, Handlers.load(h, loader), env, 2);
        }
        client.close();
        ss.close();
        System.out.flush();
    }

    private static final String EVENT = "{\"name\":\"training\",\"count\":3,\"ratio\":0.5,\"enabled\":true,"
            + "\"items\":[{\"id\":\"a\",\"value\":1},{\"id\":\"b\",\"value\":2}],"
            + "\"attributes\":{\"k\":\"v\",\"n\":null,\"list\":[1,2.5,\"x\",false]}}";
    private static final String FAILING_EVENT = "{\"name\":\"fail\",\"fail\":true}";

    private static void serve(ServerSocket ss) {
        int n = 0;
        while (!ss.isClosed()) {
            try (Socket s = ss.accept()) {
                InputStream in = new BufferedInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                while (true) {
                    String requestLine = line(in);
                    if (requestLine == null) {
                        break;
                    }
                    int length = 0;
                    String h;
                    while ((h = line(in)) != null && !h.isEmpty()) {
                        if (h.regionMatches(true, 0, "content-length:", 0, 15)) {
                            length = Integer.parseInt(h.substring(15).trim());
                        }
                    }
                    in.readNBytes(length);
                    if (requestLine.startsWith("GET ")) {
                        n++;
                        byte[] body = ((n % 2 == 0) ? FAILING_EVENT : EVENT).getBytes(StandardCharsets.UTF_8);
                        String head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                + "Lambda-Runtime-Aws-Request-Id: training-" + n + "\r\n"
                                + "Lambda-Runtime-Deadline-Ms: " + (System.currentTimeMillis() + 60_000) + "\r\n"
                                + "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:training\r\n"
                                + "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"
                                + "Lambda-Runtime-Client-Context: {\"client\":{\"installation_id\":\"i\"},\"custom\":{\"a\":\"b\"},\"env\":{\"platform\":\"x\"}}\r\n"
                                + "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"id\",\"cognitoIdentityPoolId\":\"pool\"}\r\n"
                                + "Content-Length: " + body.length + "\r\n\r\n";
                        out.write(head.getBytes(StandardCharsets.ISO_8859_1));
                        out.write(body);
                    } else {
                        byte[] body = "{\"status\":\"OK\"}".getBytes(StandardCharsets.UTF_8);
                        out.write(("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "
                                + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                        out.write(body);
                    }
                    out.flush();
                }
            } catch (IOException e) {
                // the run is over (socket closed)
            }
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') {
                    sb.setLength(len - 1);
                }
                return sb.toString();
            }
            sb.append((char) c);
        }
        return sb.length() == 0 ? null : sb.toString();
    }

    /** Training event. */
    public static final class Event {
        private String name;
        private int count;
        private double ratio;
        private boolean enabled;
        private boolean fail;
        private List<Item> items;
        private Map<String, Object> attributes;

        public String getName() {
            return name;
        }

        public void setName(String name) {
            this.name = name;
        }

        public int getCount() {
            return count;
        }

        public void setCount(int count) {
            this.count = count;
        }

        public double getRatio() {
            return ratio;
        }

        public void setRatio(double ratio) {
            this.ratio = ratio;
        }

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public boolean isFail() {
            return fail;
        }

        public void setFail(boolean fail) {
            this.fail = fail;
        }

        public List<Item> getItems() {
            return items;
        }

        public void setItems(List<Item> items) {
            this.items = items;
        }

        public Map<String, Object> getAttributes() {
            return attributes;
        }

        public void setAttributes(Map<String, Object> attributes) {
            this.attributes = attributes;
        }
    }

    /** Training item (public fields). */
    public static final class Item {
        public String id;
        public Long value;
    }

    /** Training POJO handler. */
    public static final class PojoHandler implements RequestHandler<Event, Map<String, Object>> {
        @Override
        public Map<String, Object> handleRequest(Event input, Context context) {
            context.getLogger().log("training " + context.getAwsRequestId() + "\n");
            if (input.isFail()) {
                throw new IllegalStateException("training failure", new RuntimeException("training cause"));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("event", input);
            out.put("remaining", context.getRemainingTimeInMillis());
            out.put("client", context.getClientContext() == null ? null : context.getClientContext().getCustom());
            out.put("identity", context.getIdentity() == null ? null : context.getIdentity().getIdentityId());
            List<Object> list = new ArrayList<>();
            list.add(1.5d);
            list.add(Boolean.TRUE);
            list.add(null);
            out.put("list", list);
            return out;
        }
    }

    /** Training stream handler. */
    public static final class StreamHandler implements RequestStreamHandler {
        @Override
        public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
            byte[] in = input.readAllBytes();
            if (new String(in, StandardCharsets.UTF_8).contains("\"fail\"")) {
                throw new IOException("training failure");
            }
            output.write(in);
        }
    }

    /** Training method handler. */
    public static final class Methods {
        public String handle(Map<String, Object> input, Context context) {
            System.out.println("training " + input.get("name"));
            if (input.containsKey("fail")) {
                throw new IllegalArgumentException("training failure");
            }
            return String.valueOf(input.get("name"));
        }
    }
}
