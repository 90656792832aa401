//! User accounts (admin-managed).

pub mod dto;
pub mod handlers;
pub mod models;
pub mod queries;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_users)
        .service(handlers::create_user)
        .service(handlers::get_user)
        .service(handlers::update_user);
}

/// 422 on `user_id` unless the user exists, is active and has one of `roles` (who may join a
/// case or survivor team).
pub async fn ensure_assignable(
    conn: &mut diesel_async::AsyncPgConnection,
    id: crate::ids::UserId,
    roles: &[crate::auth::Role],
    what: &str,
) -> crate::error::ApiResult<dto::UserRef> {
    use crate::error::ApiError;
    let user = queries::find(conn, id)
        .await
        .map_err(|_| ApiError::invalid_field("user_id", "unknown_user", "no such user"))?;
    if !user.active || !roles.contains(&user.role) {
        let names: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        return Err(ApiError::invalid_field(
            "user_id",
            "not_assignable",
            &format!(
                "only active users with the roles {} can be assigned to {what}",
                names.join(", ")
            ),
        ));
    }
    Ok(dto::UserRef {
        id: user.id,
        display_name: user.display_name,
        role: user.role,
    })
}
