//! Record identifiers: UUIDv7 made where the record is born, so a branch never needs HQ to create one.
//!
//! Each kind of record has its own newtype so a case ID can never be passed where a beneficiary ID is
//! expected. The timestamp inside a v7 ID only gives index locality: nothing orders or decides by it
//! (sync orders by sequence numbers), so a device with a wrong clock still mints good IDs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person the charity serves (مستفيد).
    BeneficiaryId
);
id_type!(
    /// A support request (طلب دعم).
    CaseId
);
id_type!(
    /// One contact with a beneficiary through any channel.
    InteractionId
);
id_type!(
    /// Something a staff member must do.
    TaskId
);
id_type!(
    /// A service delivered under an approved, registered case.
    DeliveryId
);
id_type!(
    /// A satisfaction survey answer.
    SurveyId
);
id_type!(
    /// A staff account.
    StaffId
);
id_type!(
    /// A branch device (one laptop's store).
    DeviceId
);
id_type!(
    /// A household member of a beneficiary.
    MemberId
);
