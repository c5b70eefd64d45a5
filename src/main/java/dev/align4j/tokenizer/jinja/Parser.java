package dev.align4j.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Lexer and recursive-descent parser of the Jinja subset chat templates use, with Jinja's whitespace rules as
 * transformers configures them ({@code trim_blocks=True, lstrip_blocks=True}) and the {@code -}/{@code +} markers.
 * Operator precedence follows Jinja 3: conditional expression, or, and, not, comparisons ({@code in}, {@code not in},
 * {@code ==} ...), {@code + -}, {@code ~}, {@code * / // %}, {@code **}, unary minus, then postfix access, calls,
 * filters ({@code |}) and tests ({@code is}).
 */
final class Parser {
    static final int MAX_DEPTH = 200;

    enum Kind { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Tok(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isName(String t) {
            return kind == Kind.NAME && text.equals(t);
        }

        boolean isOp(String t) {
            return kind == Kind.OP && text.equals(t);
        }
    }

    private final List<Tok> toks;
    private int p;
    private int depth;

    private Parser(List<Tok> toks) {
        this.toks = toks;
    }

    static List<Node> parse(String source) {
        Parser parser = new Parser(new Lexer(source).lex());
        List<Node> body = parser.body(Set.of());
        if (parser.peek().kind != Kind.EOF) {
            Tok t = parser.peek();
            throw new TemplateException(t.line, "unexpected '" + t.text + "'");
        }
        return body;
    }

    // ---- lexer ------------------------------------------------------------------------------------------

    static final class Lexer {
        private static final Pattern RAW_END = Pattern.compile("\\{%(-?)\\s*endraw\\s*(-?)%}");
        private static final Pattern RAW_BEGIN = Pattern.compile("\\{%[-+]?\\s*raw\\s*(-?)%}");
        private static final String[] OPS = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};

        private final String s;
        private final int n;
        private final int[] lineStarts;
        private final List<Tok> out = new ArrayList<>();
        private boolean stripLeading, trimNewline;

        Lexer(String source) {
            // jinja2's keep_trailing_newline=False: one trailing newline of the source is dropped
            if (source.endsWith("\r\n")) source = source.substring(0, source.length() - 2);
            else if (source.endsWith("\n")) source = source.substring(0, source.length() - 1);
            this.s = source;
            this.n = source.length();
            List<Integer> starts = new ArrayList<>();
            starts.add(0);
            for (int i = 0; i < n; i++) if (s.charAt(i) == '\n') starts.add(i + 1);
            lineStarts = starts.stream().mapToInt(Integer::intValue).toArray();
        }

        int lineAt(int pos) {
            int lo = 0, hi = lineStarts.length - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (lineStarts[mid] <= pos) lo = mid;
                else hi = mid - 1;
            }
            return lo + 1;
        }

        List<Tok> lex() {
            int pos = 0;
            while (pos <= n) {
                int tag = nextTag(pos);
                String text = s.substring(pos, tag < 0 ? n : tag);
                int textLine = lineAt(pos);
                if (stripLeading) text = stripLeadingWs(text);
                else if (trimNewline) {
                    if (text.startsWith("\n")) text = text.substring(1);
                    else if (text.startsWith("\r\n")) text = text.substring(2);
                }
                stripLeading = trimNewline = false;
                if (tag < 0) {
                    if (!text.isEmpty()) out.add(new Tok(Kind.TEXT, text, null, textLine));
                    break;
                }
                char kind = s.charAt(tag + 1);
                char mod = tag + 2 < n ? s.charAt(tag + 2) : 0;
                if (mod == '-') text = stripTrailingWs(text);
                else if (mod != '+' && kind != '{') text = lstripLine(text, tag);
                if (!text.isEmpty()) out.add(new Tok(Kind.TEXT, text, null, textLine));
                int line = lineAt(tag);
                if (kind == '#') {
                    int end = s.indexOf("#}", tag + 2);
                    if (end < 0) throw new TemplateException(line, "unclosed comment");
                    stripLeading = end > tag + 2 && s.charAt(end - 1) == '-';
                    trimNewline = !stripLeading;
                    pos = end + 2;
                    continue;
                }
                if (kind == '%') {
                    Matcher raw = RAW_BEGIN.matcher(s).region(tag, n);
                    if (raw.lookingAt()) {
                        pos = raw(raw, line);
                        continue;
                    }
                }
                boolean block = kind == '%';
                out.add(new Tok(block ? Kind.BLOCK_BEGIN : Kind.VAR_BEGIN, block ? "{%" : "{{", null, line));
                pos = expression(tag + ((mod == '-' || mod == '+') ? 3 : 2), block);
            }
            out.add(new Tok(Kind.EOF, "end of template", null, lineAt(n)));
            return out;
        }

        private int raw(Matcher begin, int line) {
            int start = begin.end();
            Matcher end = RAW_END.matcher(s);
            if (!end.find(start)) throw new TemplateException(line, "unclosed raw block: expected 'endraw'");
            String text = s.substring(start, end.start());
            if (!begin.group(1).isEmpty()) text = stripLeadingWs(text);
            else if (text.startsWith("\n")) text = text.substring(1);
            if (!end.group(1).isEmpty()) text = stripTrailingWs(text);
            if (!text.isEmpty()) out.add(new Tok(Kind.TEXT, text, null, line));
            stripLeading = !end.group(2).isEmpty();
            trimNewline = !stripLeading;
            return end.end();
        }

        private int nextTag(int from) {
            int i = s.indexOf('{', from);
            while (i >= 0 && i + 1 < n) {
                char c = s.charAt(i + 1);
                if (c == '{' || c == '%' || c == '#') return i;
                i = s.indexOf('{', i + 1);
            }
            return -1;
        }

        /** lstrip_blocks: spaces and tabs between the line start and a block or comment tag are dropped. */
        private String lstripLine(String text, int tag) {
            int k = text.length();
            while (k > 0 && (text.charAt(k - 1) == ' ' || text.charAt(k - 1) == '\t')) k--;
            boolean lineStart = k == 0 ? (tag - text.length() == 0 || isNewlineBefore(tag - text.length())) : text.charAt(k - 1) == '\n';
            return lineStart ? text.substring(0, k) : text;
        }

        /** True when the character before {@code pos} in the source ends a line (so the text began a line). */
        private boolean isNewlineBefore(int pos) {
            return pos > 0 && s.charAt(pos - 1) == '\n';
        }

        private static String stripLeadingWs(String t) {
            int i = 0;
            while (i < t.length() && Character.isWhitespace(t.charAt(i))) i++;
            return t.substring(i);
        }

        private static String stripTrailingWs(String t) {
            int k = t.length();
            while (k > 0 && Character.isWhitespace(t.charAt(k - 1))) k--;
            return t.substring(0, k);
        }

        /** The tokens of one tag's expression, up to and including its end; returns the position after it. */
        private int expression(int i, boolean block) {
            int balance = 0;
            int tagLine = lineAt(i);
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i >= n) throw new TemplateException(tagLine, "unclosed tag: expected '" + (block ? "%}" : "}}") + "'");
                int line = lineAt(i);
                if (balance == 0) {
                    String end = block ? "%}" : "}}";
                    boolean minus = s.startsWith("-" + end, i);
                    if (minus || s.startsWith(end, i)) {
                        out.add(new Tok(block ? Kind.BLOCK_END : Kind.VAR_END, end, null, line));
                        stripLeading = minus;
                        trimNewline = block && !minus;
                        return i + end.length() + (minus ? 1 : 0);
                    }
                }
                char c = s.charAt(i);
                if (Character.isLetter(c) || c == '_') {
                    int j = i + 1;
                    while (j < n && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_')) j++;
                    out.add(new Tok(Kind.NAME, s.substring(i, j), null, line));
                    i = j;
                } else if (Character.isDigit(c)) {
                    i = number(i, line);
                } else if (c == '\'' || c == '"') {
                    i = string(i, line);
                } else {
                    String op = null;
                    for (String o : OPS) if (s.startsWith(o, i)) { op = o; break; }
                    if (op == null) throw new TemplateException(line, "unexpected character '" + c + "'");
                    if (op.equals("(") || op.equals("[") || op.equals("{")) balance++;
                    if (op.equals(")") || op.equals("]") || op.equals("}")) balance = Math.max(0, balance - 1);
                    out.add(new Tok(Kind.OP, op, null, line));
                    i += op.length();
                }
            }
        }

        private int number(int i, int line) {
            int j = i;
            while (j < n && (Character.isDigit(s.charAt(j)) || s.charAt(j) == '_')) j++;
            boolean flt = false;
            if (j + 1 < n && s.charAt(j) == '.' && Character.isDigit(s.charAt(j + 1))) {
                flt = true;
                j++;
                while (j < n && (Character.isDigit(s.charAt(j)) || s.charAt(j) == '_')) j++;
            }
            if (j < n && (s.charAt(j) == 'e' || s.charAt(j) == 'E')) {
                int k = j + 1;
                if (k < n && (s.charAt(k) == '+' || s.charAt(k) == '-')) k++;
                if (k < n && Character.isDigit(s.charAt(k))) {
                    flt = true;
                    j = k;
                    while (j < n && Character.isDigit(s.charAt(j))) j++;
                }
            }
            String text = s.substring(i, j).replace("_", "");
            try {
                if (flt) out.add(new Tok(Kind.FLOAT, text, Double.parseDouble(text), line));
                else out.add(new Tok(Kind.INT, text, Long.parseLong(text), line));
            } catch (NumberFormatException e) {
                throw new TemplateException(line, "number out of range: " + text);
            }
            return j;
        }

        private int string(int i, int line) {
            char q = s.charAt(i);
            StringBuilder sb = new StringBuilder();
            int j = i + 1;
            while (true) {
                if (j >= n) throw new TemplateException(line, "unterminated string");
                char c = s.charAt(j);
                if (c == q) break;
                if (c == '\\' && j + 1 < n) {
                    char e = s.charAt(j + 1);
                    j += 2;
                    switch (e) {
                        case 'n' -> sb.append('\n');
                        case 't' -> sb.append('\t');
                        case 'r' -> sb.append('\r');
                        case '0' -> sb.append('\0');
                        case 'a' -> sb.append('\u0007');
                        case 'b' -> sb.append('\b');
                        case 'f' -> sb.append('\f');
                        case 'v' -> sb.append('\u000b');
                        case '\\', '\'', '"' -> sb.append(e);
                        case '\n' -> { }
                        case 'x', 'u', 'U' -> {
                            int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                            if (j + len > n) throw new TemplateException(line, "bad \\" + e + " escape");
                            try {
                                sb.appendCodePoint(Integer.parseInt(s.substring(j, j + len), 16));
                            } catch (IllegalArgumentException ex) {
                                throw new TemplateException(line, "bad \\" + e + " escape");
                            }
                            j += len;
                        }
                        default -> sb.append('\\').append(e);
                    }
                    continue;
                }
                sb.append(c);
                j++;
            }
            out.add(new Tok(Kind.STRING, sb.toString(), sb.toString(), line));
            return j + 1;
        }
    }

    // ---- statements -------------------------------------------------------------------------------------

    private Tok peek() {
        return toks.get(p);
    }

    private Tok peek(int k) {
        return toks.get(Math.min(p + k, toks.size() - 1));
    }

    private Tok next() {
        Tok t = toks.get(p);
        if (t.kind != Kind.EOF) p++;
        return t;
    }

    private TemplateException error(Tok t, String msg) {
        return new TemplateException(t.line, msg);
    }

    private Tok expect(Kind k, String text) {
        Tok t = next();
        if (t.kind != k || (text != null && !t.text.equals(text)))
            throw error(t, "expected '" + (text != null ? text : k.name().toLowerCase()) + "', got '" + t.text + "'");
        return t;
    }

    private String name() {
        Tok t = next();
        if (t.kind != Kind.NAME) throw error(t, "expected a name, got '" + t.text + "'");
        return t.text;
    }

    private void enter(Tok t) {
        if (++depth > MAX_DEPTH) throw error(t, "template nested deeper than " + MAX_DEPTH + " levels");
    }

    /** Statements until a block tag named in {@code ends} (left unconsumed: the BLOCK_BEGIN is the current token). */
    private List<Node> body(Set<String> ends) {
        List<Node> nodes = new ArrayList<>();
        while (true) {
            Tok t = peek();
            switch (t.kind) {
                case EOF -> {
                    if (!ends.isEmpty())
                        throw error(t, "unexpected end of template, expected " + String.join(" or ", ends.stream().sorted().map(e -> "'" + e + "'").toList()));
                    return nodes;
                }
                case TEXT -> {
                    next();
                    nodes.add(new Node.Text(t.line, t.text));
                }
                case VAR_BEGIN -> {
                    next();
                    Node e = expression();
                    expect(Kind.VAR_END, null);
                    nodes.add(new Node.Output(t.line, e));
                }
                case BLOCK_BEGIN -> {
                    Tok kw = peek(1);
                    if (kw.kind == Kind.NAME && ends.contains(kw.text)) return nodes;
                    next();
                    nodes.add(statement());
                }
                default -> throw error(t, "unexpected '" + t.text + "'");
            }
        }
    }

    private void endTag(String name) {
        expect(Kind.BLOCK_BEGIN, null);
        Tok t = next();
        if (!t.isName(name)) throw error(t, "expected '" + name + "', got '" + t.text + "'");
        expect(Kind.BLOCK_END, null);
    }

    private Node statement() {
        Tok kw = next();
        if (kw.kind != Kind.NAME) throw error(kw, "expected a tag name, got '" + kw.text + "'");
        enter(kw);
        try {
            switch (kw.text) {
                case "if": return ifStatement(kw);
                case "for": return forStatement(kw);
                case "set": return setStatement(kw);
                case "macro": return macroStatement(kw);
                case "generation": {
                    expect(Kind.BLOCK_END, null);
                    List<Node> body = body(Set.of("endgeneration"));
                    endTag("endgeneration");
                    return new Node.Generation(kw.line, body);
                }
                case "filter": {
                    Node.Call f = filterCall(null);
                    expect(Kind.BLOCK_END, null);
                    List<Node> body = body(Set.of("endfilter"));
                    endTag("endfilter");
                    return new Node.FilterBlock(kw.line, f, body);
                }
                case "break": expect(Kind.BLOCK_END, null); return new Node.Break(kw.line);
                case "continue": expect(Kind.BLOCK_END, null); return new Node.Continue(kw.line);
                case "do": {
                    Node e = expression();
                    expect(Kind.BLOCK_END, null);
                    return new Node.Do(kw.line, e);
                }
                default:
                    throw error(kw, "unknown or unsupported tag '" + kw.text + "'");
            }
        } finally {
            depth--;
        }
    }

    private Node ifStatement(Tok kw) {
        List<Node> conds = new ArrayList<>();
        List<List<Node>> bodies = new ArrayList<>();
        conds.add(expression());
        expect(Kind.BLOCK_END, null);
        while (true) {
            bodies.add(body(Set.of("elif", "else", "endif")));
            expect(Kind.BLOCK_BEGIN, null);
            Tok t = next();
            if (t.text.equals("elif")) {
                conds.add(expression());
                expect(Kind.BLOCK_END, null);
            } else if (t.text.equals("else")) {
                expect(Kind.BLOCK_END, null);
                bodies.add(body(Set.of("endif")));
                endTag("endif");
                break;
            } else {
                expect(Kind.BLOCK_END, null);
                bodies.add(List.of());
                break;
            }
        }
        return new Node.If(kw.line, conds, bodies);
    }

    private Node forStatement(Tok kw) {
        List<String> targets = new ArrayList<>();
        boolean paren = peek().isOp("(");
        if (paren) next();
        targets.add(name());
        while (peek().isOp(",")) {
            next();
            targets.add(name());
        }
        if (paren) expect(Kind.OP, ")");
        Tok in = next();
        if (!in.isName("in")) throw error(in, "expected 'in', got '" + in.text + "'");
        Node iterable = or();
        Node filter = null;
        if (peek().isName("if")) {
            next();
            filter = or();
        }
        boolean recursive = false;
        if (peek().isName("recursive")) {
            next();
            recursive = true;
        }
        expect(Kind.BLOCK_END, null);
        List<Node> body = body(Set.of("else", "endfor"));
        List<Node> elseBody = List.of();
        expect(Kind.BLOCK_BEGIN, null);
        Tok t = next();
        expect(Kind.BLOCK_END, null);
        if (t.text.equals("else")) {
            elseBody = body(Set.of("endfor"));
            endTag("endfor");
        }
        return new Node.For(kw.line, targets, iterable, filter, body, elseBody, recursive);
    }

    private Node setStatement(Tok kw) {
        List<String> targets = new ArrayList<>();
        String attribute = null;
        targets.add(name());
        if (peek().isOp(".")) {
            next();
            attribute = name();
        } else {
            while (peek().isOp(",")) {
                next();
                targets.add(name());
            }
        }
        if (peek().isOp("=")) {
            next();
            Node value = tupleOrExpression();
            expect(Kind.BLOCK_END, null);
            return new Node.Set(kw.line, targets, attribute, value, null);
        }
        if (targets.size() != 1) throw error(peek(), "expected '='");
        expect(Kind.BLOCK_END, null);
        List<Node> body = body(Set.of("endset"));
        endTag("endset");
        return new Node.Set(kw.line, targets, attribute, null, body);
    }

    private Node macroStatement(Tok kw) {
        String name = name();
        List<String> params = new ArrayList<>();
        List<Node> defaults = new ArrayList<>();
        expect(Kind.OP, "(");
        while (!peek().isOp(")")) {
            params.add(name());
            if (peek().isOp("=")) {
                next();
                defaults.add(expression());
            } else defaults.add(null);
            if (!peek().isOp(",")) break;
            next();
        }
        expect(Kind.OP, ")");
        expect(Kind.BLOCK_END, null);
        List<Node> body = body(Set.of("endmacro"));
        endTag("endmacro");
        return new Node.Macro(kw.line, name, params, defaults, body);
    }

    // ---- expressions ------------------------------------------------------------------------------------

    /** {@code a, b} as a tuple (set statements), or one expression. */
    private Node tupleOrExpression() {
        Tok t = peek();
        Node first = expression();
        if (!peek().isOp(",")) return first;
        List<Node> items = new ArrayList<>();
        items.add(first);
        while (peek().isOp(",")) {
            next();
            items.add(expression());
        }
        return new Node.ListExpr(t.line, items, true);
    }

    Node expression() {
        Tok t = peek();
        enter(t);
        try {
            Node e = or();
            while (peek().isName("if")) {
                next();
                Node cond = or();
                Node otherwise = null;
                if (peek().isName("else")) {
                    next();
                    otherwise = expression();
                }
                e = new Node.CondExpr(t.line, cond, e, otherwise);
            }
            return e;
        } finally {
            depth--;
        }
    }

    private Node or() {
        Node l = and();
        while (peek().isName("or")) {
            Tok t = next();
            l = new Node.Binary(t.line, "or", l, and());
        }
        return l;
    }

    private Node and() {
        Node l = not();
        while (peek().isName("and")) {
            Tok t = next();
            l = new Node.Binary(t.line, "and", l, not());
        }
        return l;
    }

    private Node not() {
        if (peek().isName("not")) {
            Tok t = next();
            enter(t);
            try {
                return new Node.Unary(t.line, "not", not());
            } finally {
                depth--;
            }
        }
        return compare();
    }

    private static final Set<String> CMP = Set.of("==", "!=", "<", ">", "<=", ">=");

    private Node compare() {
        Tok t0 = peek();
        Node first = math1();
        List<String> ops = new ArrayList<>();
        List<Node> rest = new ArrayList<>();
        while (true) {
            Tok t = peek();
            if (t.kind == Kind.OP && CMP.contains(t.text)) {
                next();
                ops.add(t.text);
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && peek(1).isName("in")) {
                next();
                next();
                ops.add("not in");
            } else break;
            rest.add(math1());
        }
        return ops.isEmpty() ? first : new Node.Compare(t0.line, first, ops, rest);
    }

    private Node math1() {
        Node l = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            Tok t = next();
            l = new Node.Binary(t.line, t.text, l, concat());
        }
        return l;
    }

    private Node concat() {
        Node l = math2();
        while (peek().isOp("~")) {
            Tok t = next();
            l = new Node.Binary(t.line, "~", l, math2());
        }
        return l;
    }

    private Node math2() {
        Node l = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            Tok t = next();
            l = new Node.Binary(t.line, t.text, l, pow());
        }
        return l;
    }

    private Node pow() {
        Node l = unary(true);
        while (peek().isOp("**")) {
            Tok t = next();
            l = new Node.Binary(t.line, "**", l, unary(true));
        }
        return l;
    }

    private Node unary(boolean withFilter) {
        Tok t = peek();
        enter(t);
        try {
            Node n;
            if (t.isOp("-") || t.isOp("+")) {
                next();
                n = new Node.Unary(t.line, t.text, unary(false));
            } else {
                n = postfix(primary());
            }
            return withFilter ? filterExpr(n) : n;
        } finally {
            depth--;
        }
    }

    private Node primary() {
        Tok t = next();
        switch (t.kind) {
            case NAME -> {
                switch (t.text) {
                    case "true", "True": return new Node.Literal(t.line, Boolean.TRUE);
                    case "false", "False": return new Node.Literal(t.line, Boolean.FALSE);
                    case "none", "None": return new Node.Literal(t.line, null);
                    default: return new Node.Name(t.line, t.text);
                }
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder((String) t.value);
                while (peek().kind == Kind.STRING) sb.append((String) next().value);
                return new Node.Literal(t.line, sb.toString());
            }
            case INT, FLOAT -> {
                return new Node.Literal(t.line, t.value);
            }
            case OP -> {
                if (t.text.equals("(")) {
                    if (peek().isOp(")")) {
                        next();
                        return new Node.ListExpr(t.line, List.of(), true);
                    }
                    Node e = expression();
                    if (peek().isOp(",")) {
                        List<Node> items = new ArrayList<>();
                        items.add(e);
                        while (peek().isOp(",")) {
                            next();
                            if (peek().isOp(")")) break;
                            items.add(expression());
                        }
                        expect(Kind.OP, ")");
                        return new Node.ListExpr(t.line, items, true);
                    }
                    expect(Kind.OP, ")");
                    return e;
                }
                if (t.text.equals("[")) {
                    List<Node> items = new ArrayList<>();
                    while (!peek().isOp("]")) {
                        items.add(expression());
                        if (!peek().isOp(",")) break;
                        next();
                    }
                    expect(Kind.OP, "]");
                    return new Node.ListExpr(t.line, items, false);
                }
                if (t.text.equals("{")) {
                    List<Node> keys = new ArrayList<>(), values = new ArrayList<>();
                    while (!peek().isOp("}")) {
                        keys.add(expression());
                        expect(Kind.OP, ":");
                        values.add(expression());
                        if (!peek().isOp(",")) break;
                        next();
                    }
                    expect(Kind.OP, "}");
                    return new Node.DictExpr(t.line, keys, values);
                }
            }
            default -> { }
        }
        throw error(t, "unexpected '" + t.text + "'");
    }

    private Node postfix(Node n) {
        while (true) {
            Tok t = peek();
            if (t.isOp(".")) {
                next();
                Tok a = next();
                if (a.kind == Kind.NAME) n = new Node.Attr(a.line, n, a.text);
                else if (a.kind == Kind.INT) n = new Node.Index(a.line, n, new Node.Literal(a.line, a.value));
                else throw error(a, "expected an attribute name after '.', got '" + a.text + "'");
            } else if (t.isOp("[")) {
                next();
                n = subscript(t, n);
            } else if (t.isOp("(")) {
                n = call(n);
            } else return n;
        }
    }

    private Node subscript(Tok t, Node target) {
        Node start = null, stop = null, step = null;
        if (!peek().isOp(":")) {
            start = expression();
            if (peek().isOp("]")) {
                next();
                return new Node.Index(t.line, target, start);
            }
        }
        expect(Kind.OP, ":");
        if (!peek().isOp("]") && !peek().isOp(":")) stop = expression();
        if (peek().isOp(":")) {
            next();
            if (!peek().isOp("]")) step = expression();
        }
        expect(Kind.OP, "]");
        return new Node.Slice(t.line, target, start, stop, step);
    }

    private Node.Call call(Node callee) {
        Tok t = expect(Kind.OP, "(");
        List<Node> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Node> kwValues = new ArrayList<>();
        args(args, kwNames, kwValues);
        return new Node.Call(t.line, callee, null, null, args, kwNames, kwValues, false);
    }

    /** Arguments after '(' up to and including ')'. */
    private void args(List<Node> args, List<String> kwNames, List<Node> kwValues) {
        while (!peek().isOp(")")) {
            if (peek().kind == Kind.NAME && peek(1).isOp("=")) {
                kwNames.add(next().text);
                next();
                kwValues.add(expression());
            } else {
                if (!kwNames.isEmpty()) throw error(peek(), "positional argument after a keyword argument");
                args.add(expression());
            }
            if (!peek().isOp(",")) break;
            next();
        }
        expect(Kind.OP, ")");
    }

    private Node.Call filterCall(Node target) {
        Tok t = peek();
        StringBuilder name = new StringBuilder(name());
        while (peek().isOp(".")) { // dotted filter names are not in Jinja's builtins; keep the name for the error
            next();
            name.append('.').append(name());
        }
        List<Node> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Node> kwValues = new ArrayList<>();
        if (peek().isOp("(")) {
            next();
            args(args, kwNames, kwValues);
        }
        return new Node.Call(t.line, null, name.toString(), target, args, kwNames, kwValues, false);
    }

    private Node filterExpr(Node n) {
        while (true) {
            Tok t = peek();
            if (t.isOp("|")) {
                next();
                n = new Node.Filter(filterCall(n));
            } else if (t.isName("is")) {
                next();
                boolean negated = false;
                if (peek().isName("not")) {
                    next();
                    negated = true;
                }
                Tok nameTok = peek();
                String name = name();
                List<Node> args = new ArrayList<>();
                List<String> kwNames = new ArrayList<>();
                List<Node> kwValues = new ArrayList<>();
                Tok a = peek();
                if (a.isOp("(")) {
                    next();
                    args(args, kwNames, kwValues);
                } else if ((a.kind == Kind.NAME || a.kind == Kind.STRING || a.kind == Kind.INT || a.kind == Kind.FLOAT
                        || a.isOp("[") || a.isOp("{"))
                        && !(a.isName("else") || a.isName("or") || a.isName("and") || a.isName("if") || a.isName("is")
                        || a.isName("in") || a.isName("not"))) {
                    args.add(postfix(primary()));
                }
                n = new Node.Test(new Node.Call(nameTok.line, null, name, n, args, kwNames, kwValues, negated));
            } else if (t.isOp("(")) {
                n = call(n);
            } else return n;
        }
    }
}
