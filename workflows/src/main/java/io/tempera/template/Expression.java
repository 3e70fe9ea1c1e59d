package io.tempera.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The template expression language: numbers, 'strings', true/false, parameter names, {@code + - * /
 * %}, comparisons, {@code && || !}, {@code c ? a : b}, parentheses and the functions min, max,
 * round, floor, ceil, abs. Parsed once at load; evaluated against the request's values. It is
 * interpreted here and reaches nothing but the values it is given.
 */
public final class Expression {

  /** A syntax or name error, with the character position where it was found. */
  public static final class ExpressionException extends RuntimeException {
    public ExpressionException(String message) {
      super(message, null, false, false);
    }
  }

  private interface Node {
    Object eval(Map<String, Object> values);
  }

  private static final Set<String> FUNCTIONS =
      Set.of("min", "max", "round", "floor", "ceil", "abs");

  /**
   * How deep parentheses, conditionals and unary operators may nest, and how many operations an
   * expression may have: more is no template's need, and would overflow the stack when the
   * expression is parsed at load or evaluated in a generation.
   */
  static final int MAX_DEPTH = 64;

  static final int MAX_OPERATIONS = 500;

  private final String source;
  private final Node root;
  private final List<String> names;

  private Expression(String source, Node root, List<String> names) {
    this.source = source;
    this.root = root;
    this.names = List.copyOf(names);
  }

  /** Parses, or throws ExpressionException saying where and why. */
  public static Expression parse(String source) {
    Parser parser = new Parser(source);
    Node node = parser.ternary();
    parser.skipSpaces();
    if (parser.pos < source.length()) {
      throw parser.error("unexpected '" + source.charAt(parser.pos) + "'");
    }
    return new Expression(source, node, parser.names);
  }

  /** The names the expression reads. */
  public List<String> names() {
    return names;
  }

  public Object evaluate(Map<String, Object> values) {
    return root.eval(values);
  }

  public boolean test(Map<String, Object> values) {
    return truthy(evaluate(values));
  }

  @Override
  public String toString() {
    return source;
  }

  static boolean truthy(Object value) {
    if (value instanceof Boolean b) return b;
    if (value instanceof Number n) return n.doubleValue() != 0;
    if (value instanceof String s) return !s.isEmpty();
    return value != null;
  }

  private static Object arithmetic(char op, Object a, Object b) {
    if (op == '+' && (a instanceof String || b instanceof String)) {
      return String.valueOf(a) + b;
    }
    if (!(a instanceof Number x) || !(b instanceof Number y)) {
      throw new ExpressionException("'" + op + "' needs numbers, got " + a + " and " + b);
    }
    boolean whole = isWhole(x) && isWhole(y);
    if (whole && op != '/') {
      long l = x.longValue();
      long r = y.longValue();
      return switch (op) {
        case '+' -> l + r;
        case '-' -> l - r;
        case '*' -> l * r;
        default -> {
          if (r == 0) throw new ExpressionException("division by zero");
          yield l % r;
        }
      };
    }
    double l = x.doubleValue();
    double r = y.doubleValue();
    if ((op == '/' || op == '%') && r == 0) {
      throw new ExpressionException("division by zero");
    }
    double result =
        switch (op) {
          case '+' -> l + r;
          case '-' -> l - r;
          case '*' -> l * r;
          case '/' -> l / r;
          default -> l % r;
        };
    if (!Double.isFinite(result)) {
      // JSON has no Infinity: the backend would get a string where it takes a number
      throw new ExpressionException(
          "'" + op + "' of " + a + " and " + b + " is too large a number");
    }
    return result;
  }

  private static boolean isWhole(Number n) {
    return n instanceof Long || n instanceof Integer || n instanceof Short;
  }

  private static int compare(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return Double.compare(x.doubleValue(), y.doubleValue());
    }
    if (a instanceof String x && b instanceof String y) {
      return x.compareTo(y);
    }
    throw new ExpressionException("cannot compare " + a + " with " + b);
  }

  private static boolean same(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return a == null ? b == null : a.equals(b);
  }

  private static Object call(String name, List<Object> args) {
    List<Double> numbers = new ArrayList<>();
    for (Object arg : args) {
      if (!(arg instanceof Number n)) {
        throw new ExpressionException(name + "() needs numbers, got " + arg);
      }
      numbers.add(n.doubleValue());
    }
    boolean whole = args.stream().allMatch(a -> isWhole((Number) a));
    return switch (name) {
      case "min", "max" -> {
        if (numbers.isEmpty())
          throw new ExpressionException(name + "() needs at least one argument");
        double r =
            name.equals("min")
                ? numbers.stream().mapToDouble(d -> d).min().getAsDouble()
                : numbers.stream().mapToDouble(d -> d).max().getAsDouble();
        yield whole ? (Object) (long) r : (Object) r;
      }
      case "round", "floor", "ceil", "abs" -> {
        if (numbers.size() != 1) throw new ExpressionException(name + "() takes one argument");
        double v = numbers.get(0);
        yield switch (name) {
          case "round" -> (Object) Math.round(v);
          case "floor" -> (Object) (long) Math.floor(v);
          case "ceil" -> (Object) (long) Math.ceil(v);
          default -> whole ? (Object) Math.abs((long) v) : (Object) Math.abs(v);
        };
      }
      default -> throw new ExpressionException("unknown function " + name + "()");
    };
  }

  /**
   * Recursive descent: ternary > or > and > equality > comparison > additive > multiplicative >
   * unary > primary.
   */
  private static final class Parser {
    final String s;
    int pos;
    final List<String> names = new ArrayList<>();

    Parser(String s) {
      this.s = s;
    }

    int depth;
    int operations;

    void deeper() {
      if (++depth > MAX_DEPTH) {
        throw error("nested too deeply (at most " + MAX_DEPTH + " levels)");
      }
    }

    void operation() {
      if (++operations > MAX_OPERATIONS) {
        throw error("too long (at most " + MAX_OPERATIONS + " operations)");
      }
    }

    ExpressionException error(String message) {
      return new ExpressionException(message + " at position " + (pos + 1) + " of \"" + s + "\"");
    }

    void skipSpaces() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
    }

    boolean eat(String token) {
      skipSpaces();
      if (s.startsWith(token, pos)) {
        pos += token.length();
        return true;
      }
      return false;
    }

    Node ternary() {
      deeper();
      Node condition = or();
      if (eat("?")) {
        operation();
        Node yes = ternary();
        if (!eat(":")) throw error("expected ':'");
        Node no = ternary();
        depth--;
        return v -> truthy(condition.eval(v)) ? yes.eval(v) : no.eval(v);
      }
      depth--;
      return condition;
    }

    Node or() {
      Node left = and();
      while (eat("||")) {
        operation();
        Node l = left;
        Node r = and();
        left = v -> truthy(l.eval(v)) || truthy(r.eval(v));
      }
      return left;
    }

    Node and() {
      Node left = equality();
      while (eat("&&")) {
        operation();
        Node l = left;
        Node r = equality();
        left = v -> truthy(l.eval(v)) && truthy(r.eval(v));
      }
      return left;
    }

    Node equality() {
      Node left = comparison();
      while (true) {
        if (eat("==")) {
          operation();
          Node l = left, r = comparison();
          left = v -> same(l.eval(v), r.eval(v));
        } else if (eat("!=")) {
          operation();
          Node l = left, r = comparison();
          left = v -> !same(l.eval(v), r.eval(v));
        } else {
          return left;
        }
      }
    }

    Node comparison() {
      Node left = additive();
      while (true) {
        String op = eat("<=") ? "<=" : eat(">=") ? ">=" : eat("<") ? "<" : eat(">") ? ">" : null;
        if (op == null) return left;
        operation();
        Node l = left, r = additive();
        left =
            switch (op) {
              case "<=" -> v -> compare(l.eval(v), r.eval(v)) <= 0;
              case ">=" -> v -> compare(l.eval(v), r.eval(v)) >= 0;
              case "<" -> v -> compare(l.eval(v), r.eval(v)) < 0;
              default -> v -> compare(l.eval(v), r.eval(v)) > 0;
            };
      }
    }

    Node additive() {
      Node left = multiplicative();
      while (true) {
        char op = eat("+") ? '+' : eat("-") ? '-' : 0;
        if (op == 0) return left;
        operation();
        Node l = left, r = multiplicative();
        left = v -> arithmetic(op, l.eval(v), r.eval(v));
      }
    }

    Node multiplicative() {
      Node left = unary();
      while (true) {
        char op = eat("*") ? '*' : eat("/") ? '/' : eat("%") ? '%' : 0;
        if (op == 0) return left;
        operation();
        Node l = left, r = unary();
        left = v -> arithmetic(op, l.eval(v), r.eval(v));
      }
    }

    Node unary() {
      if (eat("!")) {
        operation();
        deeper();
        Node operand = unary();
        depth--;
        return v -> !truthy(operand.eval(v));
      }
      if (eat("-")) {
        operation();
        deeper();
        Node operand = unary();
        depth--;
        return v -> arithmetic('-', 0L, operand.eval(v));
      }
      return primary();
    }

    Node primary() {
      skipSpaces();
      if (pos >= s.length()) throw error("unexpected end");
      char c = s.charAt(pos);
      if (eat("(")) {
        Node inner = ternary();
        if (!eat(")")) throw error("expected ')'");
        return inner;
      }
      if (Character.isDigit(c) || c == '.') {
        int start = pos;
        while (pos < s.length() && (Character.isDigit(s.charAt(pos)) || s.charAt(pos) == '.'))
          pos++;
        String text = s.substring(start, pos);
        try {
          Object number =
              text.contains(".")
                  ? (Object) Double.parseDouble(text)
                  : (Object) Long.parseLong(text);
          if (number instanceof Double d && !Double.isFinite(d)) {
            throw new NumberFormatException("too large");
          }
          return v -> number;
        } catch (NumberFormatException e) {
          pos = start;
          throw error("bad number '" + text + "'");
        }
      }
      if (c == '\'') {
        int end = s.indexOf('\'', pos + 1);
        if (end < 0) throw error("unterminated string");
        String text = s.substring(pos + 1, end);
        pos = end + 1;
        return v -> text;
      }
      if (Character.isLetter(c) || c == '_') {
        int start = pos;
        while (pos < s.length()
            && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '_')) pos++;
        String name = s.substring(start, pos);
        if (name.equals("true") || name.equals("false")) {
          boolean b = name.equals("true");
          return v -> b;
        }
        if (eat("(")) {
          if (!FUNCTIONS.contains(name)) {
            pos = start;
            throw error(
                "unknown function '"
                    + name
                    + "' (functions: "
                    + String.join(", ", FUNCTIONS.stream().sorted().toList())
                    + ")");
          }
          operation();
          List<Node> args = new ArrayList<>();
          if (!eat(")")) {
            do {
              args.add(ternary());
            } while (eat(","));
            if (!eat(")")) throw error("expected ')'");
          }
          return v -> call(name, args.stream().map(a -> a.eval(v)).toList());
        }
        names.add(name);
        return v -> {
          if (!v.containsKey(name)) throw new ExpressionException("no value named '" + name + "'");
          return v.get(name);
        };
      }
      throw error("unexpected '" + c + "'");
    }
  }
}
