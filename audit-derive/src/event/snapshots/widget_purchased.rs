#[doc(hidden)]
const _: () = {
    #[automatically_derived]
    impl ::audit_core::AuditEvent for WidgetPurchased {
        const ACTION: &'static str = "widget.purchased";
        const VERSION: u32 = 2u32;
        fn actor(&self) -> ::audit_core::__private::ActorRecord {
            ::audit_core::__private::ActorField::actor_record(&self.buyer)
        }
        fn subjects(
            &self,
        ) -> ::audit_core::__private::Vec<::audit_core::__private::SubjectRecord> {
            let mut subjects = ::audit_core::__private::Vec::with_capacity(2usize);
            ::audit_core::__private::SubjectField::push_subjects(
                &self.widget,
                "item",
                &mut subjects,
            );
            ::audit_core::__private::SubjectField::push_subjects(
                &self.also,
                "also",
                &mut subjects,
            );
            subjects
        }
        fn __take_records(
            &mut self,
        ) -> (
            ::audit_core::__private::ActorRecord,
            ::audit_core::__private::Vec<::audit_core::__private::SubjectRecord>,
        ) {
            let actor = ::audit_core::__private::ActorField::take_actor_record(
                &mut self.buyer,
            );
            let mut subjects = ::audit_core::__private::Vec::with_capacity(2usize);
            ::audit_core::__private::SubjectField::take_subjects(
                &mut self.widget,
                "item",
                &mut subjects,
            );
            ::audit_core::__private::SubjectField::take_subjects(
                &mut self.also,
                "also",
                &mut subjects,
            );
            (actor, subjects)
        }
        fn outcome(&self) -> ::audit_core::__private::Outcome {
            ::audit_core::__private::outcome_of(&self.outcome)
        }
        fn message(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::audit_core::__private::String>,
            ::core::fmt::Error,
        > {
            let mut message = ::audit_core::__private::String::with_capacity(66usize);
            ::core::fmt::Write::write_fmt(
                &mut message,
                ::core::format_args!(
                    "{} bought {} of {}", ::audit_core::__private::message_arg(& self
                    .buyer), ::audit_core::__private::message_arg(& self.quantity),
                    ::audit_core::__private::message_arg(& self.widget)
                ),
            )?;
            ::core::result::Result::Ok(::core::option::Option::Some(message))
        }
        fn serialize_details<__S: ::audit_core::__private::serde::Serializer>(
            &self,
            serializer: __S,
        ) -> ::core::result::Result<__S::Ok, __S::Error> {
            let mut details = ::audit_core::__private::serde::Serializer::serialize_struct(
                serializer,
                "WidgetPurchased",
                2usize,
            )?;
            ::audit_core::__private::serialize_detail(
                &mut details,
                "quantity",
                &self.quantity,
            )?;
            ::audit_core::__private::serialize_detail(
                &mut details,
                "card_last4",
                &self.card_last4,
            )?;
            ::audit_core::__private::serde::ser::SerializeStruct::end(details)
        }
        fn schema() -> &'static ::audit_core::__private::EventSchema {
            &SCHEMA
        }
    }
    static SCHEMA: ::audit_core::__private::EventSchema = ::audit_core::__private::EventSchema::__new(
        "widget.purchased",
        2u32,
        ::core::concat!(
            ::core::module_path!(), "::", ::core::stringify!(WidgetPurchased)
        ),
        ::core::option::Option::Some("{actor} bought {quantity} of {widget}"),
        &[
            ::audit_core::__private::FieldSchema::__new(
                "buyer",
                "EntityRef<UserId>",
                ::audit_core::__private::FieldRole::Actor,
                ::core::option::Option::None,
                false,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "widget",
                "EntityRef<WidgetId>",
                ::audit_core::__private::FieldRole::Subject,
                ::core::option::Option::Some("item"),
                false,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "also",
                "Option<EntityRef<WidgetId>>",
                ::audit_core::__private::FieldRole::Subject,
                ::core::option::Option::Some("also"),
                false,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "quantity",
                "u32",
                ::audit_core::__private::FieldRole::Detail,
                ::core::option::Option::None,
                false,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "card_last4",
                "Redacted<String>",
                ::audit_core::__private::FieldRole::Detail,
                ::core::option::Option::None,
                true,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "outcome",
                "Outcome",
                ::audit_core::__private::FieldRole::Outcome,
                ::core::option::Option::None,
                false,
            ),
            ::audit_core::__private::FieldSchema::__new(
                "internal",
                "u8",
                ::audit_core::__private::FieldRole::Skipped,
                ::core::option::Option::None,
                false,
            ),
        ],
    );
    ::audit_core::__private::inventory::submit! {
        ::audit_core::__private::EventRegistration(& SCHEMA)
    }
    ::audit_core::__private::impl_details_schema! {
        WidgetPurchased; "quantity" => u32, "card_last4" => Redacted < String >
    }
};
