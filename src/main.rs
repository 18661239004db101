fn main() {
    println!("mcp-conform {}", env!("CARGO_PKG_VERSION"));
}
