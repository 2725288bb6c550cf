//! The simulators as test mode uses them: they know the credentials provider-adapter's
//! test-mode connectors present ([`nexpay_contracts::sandbox`]) and send their webhooks
//! to the instance's provider webhook routes, so a test payment goes through the same
//! code as a live one: connector → provider API → payer page → signed webhook →
//! status check.

use nexpay_contracts::sandbox as creds;

use crate::orange_money::{OmClient, OmSim, OmSimConfig};
use crate::wave::{ApiKeyConfig, WaveSim, WaveSimConfig, WebhookStrategy};

/// Both simulators, sharing nothing but their configuration.
#[derive(Clone)]
pub struct Simulators {
    pub wave: WaveSim,
    pub om: OmSim,
}

impl Simulators {
    /// `public_base`: the URL customers reach the instance at (payer pages are
    /// `<public_base>/sandbox/...`); `callback_base`: where provider-adapter's
    /// `/api/v1/webhook/*` routes answer.
    pub fn for_test_mode(public_base: &str, callback_base: &str) -> Simulators {
        let public_base = public_base.trim_end_matches('/');
        let callback_base = callback_base.trim_end_matches('/');
        let wave = WaveSim::new(WaveSimConfig {
            api_keys: vec![ApiKeyConfig::new(
                creds::WAVE_API_KEY,
                creds::WAVE_BUSINESS_NAME,
            )],
            launch_base_url: Some(format!("{public_base}{}", creds::WAVE_PATH)),
            // A test payment lives as long as a session may.
            session_ttl: chrono::Duration::hours(24),
            // Wave refuses http redirect URLs; an instance without https (a developer's
            // machine) has no others to give.
            allow_http_redirect_urls: public_base.starts_with("http://"),
            ..WaveSimConfig::default()
        });
        wave.register_webhook(
            format!("{callback_base}{}", creds::WAVE_WEBHOOK_PATH),
            WebhookStrategy::Signing,
            creds::WAVE_WEBHOOK_SECRET,
            Vec::new(),
        );
        let om = OmSim::new(OmSimConfig {
            clients: vec![OmClient::new(creds::OM_CLIENT_ID, creds::OM_CLIENT_SECRET)],
            public_base_url: Some(format!("{public_base}{}", creds::OM_PATH)),
            ..OmSimConfig::default()
        });
        om.register_callback(
            creds::OM_MERCHANT_CODE,
            creds::OM_MERCHANT_NAME,
            format!("{callback_base}{}", creds::OM_WEBHOOK_PATH),
            creds::OM_WEBHOOK_API_KEY,
        );
        Simulators { wave, om }
    }

    /// Serves the simulators on a free loopback port (tests of the services that talk
    /// to providers): returns them with their base URL. Webhooks go to `callback_base`.
    pub fn spawn_local(callback_base: &str) -> std::io::Result<(Simulators, String)> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let sims = Simulators::for_test_mode(&base, callback_base);
        let served = sims.clone();
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(served.configure()))
                .workers(1)
                .listen(listener)?
                .run();
        tokio::spawn(server);
        Ok((sims, base))
    }

    /// Mounts both simulators at `/sandbox/wave` and `/sandbox/om`.
    pub fn configure(&self) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
        let (wave, om) = (self.wave.clone(), self.om.clone());
        move |cfg| {
            cfg.service(
                actix_web::web::scope(creds::WAVE_PATH).configure(crate::wave::configure(wave)),
            )
            .service(
                actix_web::web::scope(creds::OM_PATH).configure(crate::orange_money::configure(om)),
            );
        }
    }
}
