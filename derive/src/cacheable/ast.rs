//! The parsed form of a `#[derive(Cacheable)]` input: the type, its attributes and its
//! fields, as the check and expand stages read it.

use syn::{Data, DataUnion, DeriveInput};

use super::attr::TypeAttrs;
use crate::ctxt::Ctxt;

/// The derive input, with its attributes read.
pub struct Container<'a> {
    /// The input as written.
    pub input: &'a DeriveInput,
    /// The `#[cacheable(..)]` attributes of the type.
    pub attrs: TypeAttrs,
    /// The fields, by variant.
    pub body: Body<'a>,
}

/// The fields of the type.
pub enum Body<'a> {
    /// A struct's fields.
    Struct(Vec<Field<'a>>),
    /// An enum's variants.
    Enum(Vec<Variant<'a>>),
    /// A union, which `check` rejects.
    Union(&'a DataUnion),
}

/// A variant of an enum.
pub struct Variant<'a> {
    /// The variant as written.
    pub variant: &'a syn::Variant,
    /// Its fields.
    pub fields: Vec<Field<'a>>,
}

/// A field, with its `#[cacheable(..)]` attribute read.
pub struct Field<'a> {
    /// The field as written.
    pub field: &'a syn::Field,
    /// `#[cacheable(skip_size)]`: left out of the size estimate.
    pub skip_size: bool,
}

impl<'a> Container<'a> {
    /// Parse stage: reads the attributes of the type and of every field.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        // The type's attributes first, so that errors come in the order of the source.
        let attrs = super::attr::type_attrs(cx, &input.attrs);
        let fields = |fields: &'a syn::Fields| -> Vec<Field<'a>> {
            fields
                .iter()
                .map(|field| Field {
                    field,
                    skip_size: super::attr::skip_size(cx, &field.attrs),
                })
                .collect()
        };
        let body = match &input.data {
            Data::Struct(data) => Body::Struct(fields(&data.fields)),
            Data::Enum(data) => Body::Enum(
                data.variants
                    .iter()
                    .map(|variant| Variant {
                        variant,
                        fields: fields(&variant.fields),
                    })
                    .collect(),
            ),
            Data::Union(data) => Body::Union(data),
        };
        Container { input, attrs, body }
    }
}
