//! Integration tests of the admin API, the bootstrap and the CLI actions. Every test
//! runs twice, against a fresh SQLite database and a fresh PostgreSQL database.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

mod access;
mod archive;
mod auth;
mod bootstrap;
mod cli;
mod key_cache;
mod key_lifecycle;
mod keys;
mod projects;
mod provider_config;
mod providers;
mod webhooks;
