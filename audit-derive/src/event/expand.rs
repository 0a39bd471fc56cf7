//! The output of `#[derive(AuditEvent)]`: the `AuditEvent` impl, the schema, its catalog
//! registration. Trait checks sit on the field's own span (every token of the call, so that
//! rustc points at the field alone), with the trait's `on_unimplemented` message; each check
//! is the only bound its value meets, so a wrong type gives one error.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::template::Piece;
use super::valid::{Event, Field, Role};
use crate::respan::{call_on_field, call_on_field_mut, respan};
use crate::type_text::type_text;

pub(super) fn expand(event: &Event<'_>) -> TokenStream {
    let Event {
        ident,
        krate,
        action,
        version,
        ..
    } = event;
    let p = quote!(#krate::__private);

    let actor_fn = actor_fn(event, &p);
    let subjects_fn = subjects_fn(event, &p);
    let take_records_fn = take_records_fn(event, &p);
    let outcome_fn = outcome_fn(event, &p);
    let message_fn = message_fn(event, &p);
    let details_fn = details_fn(event, &p);
    let schema = schema(event, &p);
    let json_schema = json_schema(event, &p);

    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #krate::AuditEvent for #ident {
                const ACTION: &'static str = #action;
                const VERSION: u32 = #version;
                #actor_fn
                #subjects_fn
                #take_records_fn
                #outcome_fn
                #message_fn
                #details_fn
                fn schema() -> &'static #p::EventSchema {
                    &SCHEMA
                }
            }

            #schema

            #p::inventory::submit! {
                #p::EventRegistration(&SCHEMA)
            }

            #json_schema
        };
    }
}

fn actor_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let Some(actor) = event.fields.iter().find(|f| f.role.is_actor()) else {
        return TokenStream::new();
    };
    let member = &actor.member;
    let call = call_on_field(
        quote!(#p::ActorField::actor_record),
        quote!(),
        member,
        &actor.ty,
        quote!(),
    );
    quote! {
        fn actor(&self) -> #p::ActorRecord {
            #call
        }
    }
}

fn subjects_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let subjects: Vec<&Field> = event
        .fields
        .iter()
        .filter(|f| f.role.is_subject())
        .collect();
    let count = subjects.len();
    let pushes = subjects.iter().map(|f| {
        let member = &f.member;
        let role = f.subject_role.as_deref().unwrap_or_default();
        let call = call_on_field(
            quote!(#p::SubjectField::push_subjects),
            quote!(),
            member,
            &f.ty,
            quote!(, #role, &mut subjects),
        );
        quote!(#call;)
    });
    quote! {
        fn subjects(&self) -> #p::Vec<#p::SubjectRecord> {
            let mut subjects = #p::Vec::with_capacity(#count);
            #(#pushes)*
            subjects
        }
    }
}

/// `__take_records`: the actor and subjects with their names moved out of the fields. A
/// field that is both actor and subject is copied for the actor, then moved for the subject.
/// The calls carry the same spans as those of `actor` and `subjects`, so a field of the wrong
/// type is reported once: rustc merges the identical errors.
fn take_records_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let Some(actor) = event.fields.iter().find(|f| f.role.is_actor()) else {
        return TokenStream::new();
    };
    let take_actor = if actor.role.is_subject() {
        call_on_field(
            quote!(#p::ActorField::actor_record),
            quote!(),
            &actor.member,
            &actor.ty,
            quote!(),
        )
    } else {
        call_on_field_mut(
            quote!(#p::ActorField::take_actor_record),
            quote!(),
            &actor.member,
            &actor.ty,
            quote!(),
        )
    };
    let subjects: Vec<&Field> = event
        .fields
        .iter()
        .filter(|f| f.role.is_subject())
        .collect();
    let count = subjects.len();
    let takes = subjects.iter().map(|f| {
        let role = f.subject_role.as_deref().unwrap_or_default();
        let call = call_on_field_mut(
            quote!(#p::SubjectField::take_subjects),
            quote!(),
            &f.member,
            &f.ty,
            quote!(, #role, &mut subjects),
        );
        quote!(#call;)
    });
    quote! {
        fn __take_records(
            &mut self,
        ) -> (#p::ActorRecord, #p::Vec<#p::SubjectRecord>) {
            let actor = #take_actor;
            let mut subjects = #p::Vec::with_capacity(#count);
            #(#takes)*
            (actor, subjects)
        }
    }
}

fn outcome_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let Some(outcome) = event.fields.iter().find(|f| f.role == Role::Outcome) else {
        return TokenStream::new();
    };
    let member = &outcome.member;
    let call = call_on_field(
        quote!(#p::outcome_of),
        quote!(),
        member,
        &outcome.ty,
        quote!(),
    );
    quote! {
        fn outcome(&self) -> #p::Outcome {
            #call
        }
    }
}

fn message_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let Some((_, span, pieces)) = &event.message else {
        return quote! {
            fn message(&self) -> ::core::result::Result<::core::option::Option<#p::String>, ::core::fmt::Error> {
                ::core::result::Result::Ok(::core::option::Option::None)
            }
        };
    };
    let mut format = String::new();
    let mut args = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => format.push_str(&text.replace('{', "{{").replace('}', "}}")),
            Piece::Field(name) => {
                format.push_str("{}");
                let member = event
                    .fields
                    .iter()
                    .find(|f| f.name == *name)
                    .or_else(|| event.fields.iter().find(|f| f.role.is_actor()))
                    .map(|f| &f.member);
                let member = member.cloned().unwrap_or_else(|| format_ident!("actor"));
                // On the message: the placeholder is the mistake when the field is not
                // `Display`.
                args.push(respan(quote!(#p::message_arg(&self.#member)), *span));
            }
        }
    }
    let capacity = format.len() + 16 * args.len();
    let span: Span = *span;
    quote_spanned! {span=>
        fn message(&self) -> ::core::result::Result<::core::option::Option<#p::String>, ::core::fmt::Error> {
            let mut message = #p::String::with_capacity(#capacity);
            ::core::fmt::Write::write_fmt(&mut message, ::core::format_args!(#format, #(#args),*))?;
            ::core::result::Result::Ok(::core::option::Option::Some(message))
        }
    }
}

fn details_fn(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let details: Vec<&Field> = event
        .fields
        .iter()
        .filter(|f| f.role == Role::Detail)
        .collect();
    let count = details.len();
    let name = event.ident.to_string();
    let fields = details.iter().map(|f| {
        let member = &f.member;
        let key = &f.name;
        let call = call_on_field(
            quote!(#p::serialize_detail),
            quote!(&mut details, #key,),
            member,
            &f.ty,
            quote!(),
        );
        quote!(#call?;)
    });
    quote! {
        fn serialize_details<__S: #p::serde::Serializer>(
            &self,
            serializer: __S,
        ) -> ::core::result::Result<__S::Ok, __S::Error> {
            let mut details = #p::serde::Serializer::serialize_struct(serializer, #name, #count)?;
            #(#fields)*
            #p::serde::ser::SerializeStruct::end(details)
        }
    }
}

/// The JSON Schema of the details, through `audit_core`'s `impl_details_schema!`, which
/// expands to nothing unless `audit_core` has its `schemars` feature.
fn json_schema(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let ident = event.ident;
    let fields = event
        .fields
        .iter()
        .filter(|f| f.role == Role::Detail)
        .map(|f| {
            let name = &f.name;
            let ty = &f.ty;
            quote!(#name => #ty)
        });
    quote! {
        #p::impl_details_schema! { #ident; #(#fields),* }
    }
}

fn schema(event: &Event<'_>, p: &TokenStream) -> TokenStream {
    let Event {
        ident,
        action,
        version,
        ..
    } = event;
    let message = match &event.message {
        Some((template, _, _)) => quote!(::core::option::Option::Some(#template)),
        None => quote!(::core::option::Option::None),
    };
    let fields = event.fields.iter().map(|f| {
        let name = &f.name;
        let ty = type_text(&f.ty);
        let role = format_ident!("{}", f.role.variant());
        let subject_role = match &f.subject_role {
            Some(r) => quote!(::core::option::Option::Some(#r)),
            None => quote!(::core::option::Option::None),
        };
        let redacted = f.redacted;
        quote!(#p::FieldSchema::__new(#name, #ty, #p::FieldRole::#role, #subject_role, #redacted))
    });
    quote! {
        static SCHEMA: #p::EventSchema = #p::EventSchema::__new(
            #action,
            #version,
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
            #message,
            &[#(#fields),*],
        );
    }
}
