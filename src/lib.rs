//! mcp-conform: conformance checks for OAuth-protected MCP servers.
