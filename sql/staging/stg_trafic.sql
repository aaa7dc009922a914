-- Web sessions, the visitor remapped to the surviving client like the sales (anonymous sessions stay NULL).
SELECT
    w.ID_Session,
    COALESCE(s.ID_Client_Survivant, w.ID_Client) AS ID_Client,
    w.ID_Date,
    w.Pages_Vues,
    w.Duree_Session_Sec,
    w.A_Achete,
    w.Panier_Abandonne,
    w.Contexte_ID_Canal,
    w.Contexte_Appareil,
    w.Contexte_Source_Trafic
FROM {{ source('Fait_Trafic_Web') }} w
LEFT JOIN {{ ref('stg_client_survivors') }} s ON s.ID_Client = w.ID_Client
