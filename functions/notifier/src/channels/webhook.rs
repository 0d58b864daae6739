//! Generic webhook notifications: the message as JSON, POSTed to the entry's `address`.

use gennaker_notify::{Outgoing, payload};
use gennaker_outbound::Outbound;

use super::{Channel, Sending, post_json};

pub struct Webhook {
    outbound: Outbound,
}

impl Webhook {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }
}

impl Channel for Webhook {
    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let body = payload::webhook(&outgoing.message);
            post_json(&self.outbound, &outgoing.address, &body, None)
                .await
                .map(|_| ())
        })
    }
}
